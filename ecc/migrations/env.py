"""Alembic environment: runs on the connection ecc.metadata.migrate hands over (its schema_translate_map
included), or on `sqlalchemy.url` when a developer runs the alembic command line."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

config = context.config
connection = config.attributes.get("connection")

if connection is None:
    with create_engine(config.get_main_option("sqlalchemy.url")).begin() as conn:
        context.configure(connection=conn, render_as_batch=True)
        context.run_migrations()
else:
    # A schema_translate_map (tests on PostgreSQL give each test its own schema) must reach Alembic's
    # version table too, or every start would believe the database empty.
    schema = connection.get_execution_options().get("schema_translate_map", {}).get(None)
    # render_as_batch: SQLite alters a table by copying it, the way Alembic's batch mode does it.
    context.configure(connection=connection, render_as_batch=True, version_table_schema=schema)
    with context.begin_transaction():
        context.run_migrations()
