"""Alert rules, alerts, silences (ecc/alerts/models.py).

Revision ID: 0002_alerts
Revises: 0001_channels
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002_alerts"
down_revision = "0001_channels"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "alert_rules",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("channel", sa.String(32), nullable=True),
        sa.Column("step", sa.Integer(), nullable=True),
        sa.Column("params", sa.JSON(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("created_ms", sa.BigInteger(), nullable=False),
        sa.Column("updated_ms", sa.BigInteger(), nullable=False),
    )
    op.create_table("alert_seeds", sa.Column("key", sa.String(64), primary_key=True))
    op.create_table(
        "alerts",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("rule_id", sa.Integer(), nullable=False, index=True),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("channel", sa.String(32), nullable=True),
        sa.Column("step", sa.Integer(), nullable=True),
        sa.Column("state", sa.String(16), nullable=False, index=True),
        sa.Column("active_key", sa.String(96), nullable=True, unique=True),
        sa.Column("started_ms", sa.BigInteger(), nullable=False, index=True),
        sa.Column("fired_ms", sa.BigInteger(), nullable=True),
        sa.Column("resolved_ms", sa.BigInteger(), nullable=True),
        sa.Column("clear_since_ms", sa.BigInteger(), nullable=True),
        sa.Column("notified_ms", sa.BigInteger(), nullable=True),
        sa.Column("window_ms", sa.BigInteger(), nullable=False),
        sa.Column("observed", sa.Float(), nullable=True),
        sa.Column("baseline", sa.Float(), nullable=True),
        sa.Column("sample", sa.BigInteger(), nullable=True),
        sa.Column("p_value", sa.Float(), nullable=True),
        sa.Column("silenced", sa.Boolean(), nullable=False),
        sa.Column("acked_by", sa.String(128), nullable=True),
        sa.Column("acked_ms", sa.BigInteger(), nullable=True),
        sa.Column("ack_comment", sa.Text(), nullable=True),
    )
    op.create_table(
        "silences",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("kind", sa.String(32), nullable=True),
        sa.Column("channel", sa.String(32), nullable=True),
        sa.Column("step", sa.Integer(), nullable=True),
        sa.Column("starts_ms", sa.BigInteger(), nullable=False),
        sa.Column("ends_ms", sa.BigInteger(), nullable=False, index=True),
        sa.Column("comment", sa.Text(), nullable=False),
        sa.Column("created_by", sa.String(128), nullable=False),
    )


def downgrade() -> None:
    for table in ("silences", "alerts", "alert_seeds", "alert_rules"):
        op.drop_table(table)
