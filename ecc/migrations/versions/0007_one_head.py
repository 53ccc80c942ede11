"""One head again: alerts (0002), receivers and their outbox (0003-0006) and access control (0004) were
written side by side as branches of 0001; the next migration follows this one.

Revision ID: 0007_one_head
Revises: 0002_alerts, 0004_auth, 0006_notify_outbox
"""

from __future__ import annotations

revision = "0007_one_head"
down_revision = ("0002_alerts", "0004_auth", "0006_notify_outbox")
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
