"""Receiver secrets sealed at rest (ecc/alerts/receivers_secrets.py): room for a Fernet token.

The rows themselves are sealed by the web process at its start (`receivers_secrets.check_start`), not
here: the key is a secret of the running installation (ECC_SECRET_KEY or its key file), which the schema
tooling neither has nor should need.

Revision ID: 0005_receiver_secrets
Revises: 0003_receivers
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005_receiver_secrets"
down_revision = "0003_receivers"
branch_labels = None
depends_on = None


def _widen(to: int, was: int) -> None:
    # SQLite does not enforce a VARCHAR's length: no table copy there (it would leave the plain secrets in
    # the file's free pages, see receivers.seal_stored).
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        return
    # an ALTER names its table itself: the schema_translate_map (tests' per-test schema) is not applied
    schema = bind.get_execution_options().get("schema_translate_map", {}).get(None)
    op.alter_column("receivers", "secret", existing_type=sa.String(was), type_=sa.String(to),
                    existing_nullable=False, existing_server_default="", schema=schema)


def upgrade() -> None:
    _widen(1024, 512)  # a 512-character secret sealed is ~790 characters (Fernet's 57 bytes, base64)


def downgrade() -> None:
    _widen(512, 1024)
