"""Notification receivers and the delivery log (ecc/alerts/receivers.py, ecc/alerts/notify_log.py).

Revision ID: 0003_receivers
Revises: 0001_channels
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003_receivers"
down_revision = "0001_channels"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "receivers",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("name", sa.String(64), nullable=False, server_default=""),
        sa.Column("url", sa.String(1024), nullable=False, server_default=""),
        sa.Column("to_addrs", sa.String(1024), nullable=False, server_default=""),
        sa.Column("secret", sa.String(512), nullable=False, server_default=""),
        sa.Column("lang", sa.String(8), nullable=False, server_default=""),
        sa.Column("enabled", sa.Boolean(), nullable=False, server_default=sa.true()),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "notifications",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        # no foreign keys: alerts are another module's table, and the log outlives a deleted receiver
        sa.Column("alert_id", sa.String(64), nullable=False),
        sa.Column("receiver_id", sa.Integer(), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("error", sa.String(500), nullable=True),
        sa.Column("transition", sa.String(16), nullable=False, server_default=""),
    )
    op.create_index("ix_notifications_alert_id", "notifications", ["alert_id"])
    op.create_index("ix_notifications_receiver_id", "notifications", ["receiver_id"])
    op.create_index("ix_notifications_at", "notifications", ["at"])


def downgrade() -> None:
    op.drop_table("notifications")
    op.drop_table("receivers")
