"""Deliveries not yet done survive a restart (ecc/alerts/notify_outbox.py).

Revision ID: 0006_notify_outbox
Revises: 0005_receiver_secrets
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006_notify_outbox"
down_revision = "0005_receiver_secrets"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "notification_outbox",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        # no foreign key to receivers: a receiver deleted while a retry waits ends that retry (logged)
        sa.Column("group_id", sa.String(32), nullable=False),
        sa.Column("receiver_id", sa.Integer(), nullable=False),
        sa.Column("transition", sa.String(16), nullable=False),
        sa.Column("alerts", sa.Text(), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("due_ms", sa.BigInteger(), nullable=False),
        sa.Column("claimed_until_ms", sa.BigInteger(), nullable=False, server_default="0"),
        sa.Column("created_ms", sa.BigInteger(), nullable=False),
    )
    op.create_index("ix_notification_outbox_due_ms", "notification_outbox", ["due_ms"])


def downgrade() -> None:
    op.drop_table("notification_outbox")
