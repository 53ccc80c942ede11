"""Tables of the alerts (metadata DB, migration ecc/migrations/versions/0002_alerts.py).

Instants are UTC epoch milliseconds (BigInteger): exact and zone-free on SQLite and PostgreSQL alike.
`alerts.active_key` is "rule:channel:step" while an alert is pending or firing and NULL once resolved:
a unique index on it is the database's own guarantee of one open alert per (rule, channel, step).
"""

from __future__ import annotations

from sqlalchemy import JSON, BigInteger, Boolean, Float, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from ecc.metadata import Base


class AlertRule(Base):
    __tablename__ = "alert_rules"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(32))
    channel: Mapped[str | None] = mapped_column(String(32), nullable=True)
    step: Mapped[int | None] = mapped_column(Integer, nullable=True)
    params: Mapped[dict] = mapped_column(JSON)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    created_ms: Mapped[int] = mapped_column(BigInteger)
    updated_ms: Mapped[int] = mapped_column(BigInteger)


class AlertSeed(Base):
    """Default rules already created once: a default an admin deleted is not created again."""

    __tablename__ = "alert_seeds"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)


class Alert(Base):
    __tablename__ = "alerts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    rule_id: Mapped[int] = mapped_column(Integer, index=True)
    kind: Mapped[str] = mapped_column(String(32))
    channel: Mapped[str | None] = mapped_column(String(32), nullable=True)
    step: Mapped[int | None] = mapped_column(Integer, nullable=True)
    state: Mapped[str] = mapped_column(String(16), index=True)
    active_key: Mapped[str | None] = mapped_column(String(96), nullable=True, unique=True)
    started_ms: Mapped[int] = mapped_column(BigInteger, index=True)
    fired_ms: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    resolved_ms: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    clear_since_ms: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    notified_ms: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    window_ms: Mapped[int] = mapped_column(BigInteger, default=0)  # the rule's window (drill-down link)
    observed: Mapped[float | None] = mapped_column(Float, nullable=True)
    baseline: Mapped[float | None] = mapped_column(Float, nullable=True)
    sample: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    p_value: Mapped[float | None] = mapped_column(Float, nullable=True)
    silenced: Mapped[bool] = mapped_column(Boolean, default=False)
    acked_by: Mapped[str | None] = mapped_column(String(128), nullable=True)
    acked_ms: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    ack_comment: Mapped[str | None] = mapped_column(Text, nullable=True)


class Silence(Base):
    __tablename__ = "silences"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    kind: Mapped[str | None] = mapped_column(String(32), nullable=True)
    channel: Mapped[str | None] = mapped_column(String(32), nullable=True)
    step: Mapped[int | None] = mapped_column(Integer, nullable=True)
    starts_ms: Mapped[int] = mapped_column(BigInteger)
    ends_ms: Mapped[int] = mapped_column(BigInteger, index=True)
    comment: Mapped[str] = mapped_column(Text, default="")
    created_by: Mapped[str] = mapped_column(String(128), default="")
