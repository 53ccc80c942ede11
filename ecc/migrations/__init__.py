"""Schema changes of the metadata database as Alembic migrations (run by `ecc.metadata.migrate`).

New revision: `.venv/bin/alembic -c ecc/migrations/alembic.ini revision -m "what"` (then edit the file).
"""
