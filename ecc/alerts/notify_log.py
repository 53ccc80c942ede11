"""The delivery log (`GET /api/v1/notifications`): every attempt at every receiver, one row per alert.

A group of alerts goes out as one message per receiver; each attempt writes one row for each alert in it,
so the log answers both "did the on-call hear about alert 42?" and "is the Feishu robot failing?".
`status`: `sent` (the receiver took it), `retrying` (failed, another attempt is scheduled), `failed`
(failed, no attempt left). `error` never holds a secret or a URL (ecc/alerts/notify_send.py).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime

from sqlalchemy import DateTime, Engine, Integer, String, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from ecc.contract import pii
from ecc.metadata import Base
from ecc.timeutil import TZ

STATUSES = ("sent", "retrying", "failed")


class Delivery(Base):
    __tablename__ = "notifications"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    alert_id: Mapped[str] = mapped_column(String(64), index=True)
    receiver_id: Mapped[int] = mapped_column(Integer, index=True)
    attempt: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    error: Mapped[str | None] = mapped_column(String(500), nullable=True)
    transition: Mapped[str] = mapped_column(String(16), default="")


def _alert_id(stored: str) -> object:
    """Alert ids go back out as they came in: the alerts' integer ids as integers."""
    return int(stored) if stored.isdigit() else stored


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)  # SQLite keeps no offset: stored as UTC


def add(session: Session, alert_ids: Iterable[object], receiver_id: int, attempt: int, status: str,
        error: str | None, transition: str, at: datetime | None = None) -> None:
    """The rows of one attempt, in the caller's transaction (with the outbox's change of the same attempt)."""
    if status not in STATUSES:
        raise ValueError(f"status must be one of {STATUSES}, got {status!r}")
    moment = (at or datetime.now(UTC)).astimezone(UTC)
    text = pii.mask_text(error)[:500] if error else None
    if session.get_bind().dialect.name == "sqlite":
        moment = moment.replace(tzinfo=None)
    session.add_all(Delivery(alert_id=str(a), receiver_id=receiver_id, attempt=attempt, status=status,
                             at=moment, error=text, transition=transition) for a in alert_ids)


def record(engine: Engine, alert_ids: Iterable[object], receiver_id: int, attempt: int, status: str,
           error: str | None, transition: str, at: datetime | None = None) -> None:
    with Session(engine) as session, session.begin():
        add(session, alert_ids, receiver_id, attempt, status, error, transition, at)


def as_dict(d: Delivery) -> dict:
    return {"alert_id": _alert_id(d.alert_id), "receiver_id": d.receiver_id, "attempt": d.attempt,
            "status": d.status, "at": _aware(d.at).astimezone(TZ).isoformat(timespec="milliseconds"),
            "error": d.error, "transition": d.transition}


def list_deliveries(engine: Engine, *, limit: int = 100, alert_id: object = None,
                    receiver_id: int | None = None, status: str | None = None) -> list[dict]:
    """Newest first (ties in time by insertion order)."""
    query = select(Delivery).order_by(Delivery.at.desc(), Delivery.id.desc()).limit(limit)
    if alert_id is not None:
        query = query.where(Delivery.alert_id == str(alert_id))
    if receiver_id is not None:
        query = query.where(Delivery.receiver_id == receiver_id)
    if status is not None:
        query = query.where(Delivery.status == status)
    with Session(engine) as session:
        return [as_dict(d) for d in session.scalars(query)]
