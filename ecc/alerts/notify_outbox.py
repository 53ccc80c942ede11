"""Deliveries not yet done, kept in the metadata database so that a restart forgets none (the outbox).

One row per (group, receiver): the alerts in the API shape and the transition (enough to render the
message again, in the receiver's language, at every attempt; never a secret: the receiver's secret is
read and opened at the attempt), the number of the next attempt and when it is due. A row leaves the
outbox when its message is sent or its last attempt failed.

Any process may find a due row (its own retry timer, or the sweeper of a process that starts after a
crash); only the one whose `claim` succeeds sends it. The claim is a compare-and-set on (id, attempt,
claimed_until) that also marks the row taken for `hold_ms`: should the sender die mid-attempt, the row is
due again once the hold has passed, and the attempt is made anew (at least once; the webhook body's
group_id lets a receiver drop the copy).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import BigInteger, Engine, Integer, String, Text, delete, select, update
from sqlalchemy.orm import Mapped, Session, mapped_column

from ecc.metadata import Base

# a timer may fire a little early against the wall clock; a claim this far ahead of due is on time
EARLY_MS = 500


class Pending(Base):
    __tablename__ = "notification_outbox"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    group_id: Mapped[str] = mapped_column(String(32))
    receiver_id: Mapped[int] = mapped_column(Integer)
    transition: Mapped[str] = mapped_column(String(16))
    alerts: Mapped[str] = mapped_column(Text)  # JSON list of alerts in the API shape
    attempt: Mapped[int] = mapped_column(Integer)  # the next attempt's number, from 1
    due_ms: Mapped[int] = mapped_column(BigInteger, index=True)
    claimed_until_ms: Mapped[int] = mapped_column(BigInteger, default=0)
    created_ms: Mapped[int] = mapped_column(BigInteger)


@dataclass(frozen=True)
class Job:
    """A claimed row: what one attempt needs."""

    id: int
    group_id: str
    receiver_id: int
    transition: str
    alerts: list[dict]
    attempt: int


def enqueue(engine: Engine, group_id: str, transition: str, alerts: Sequence[dict],
            receiver_ids: Sequence[int], now_ms: int) -> list[int]:
    """One row per receiver, due now; their ids in the order of `receiver_ids`."""
    body = json.dumps(list(alerts), ensure_ascii=False, default=str)
    rows = [Pending(group_id=group_id, receiver_id=r, transition=transition, alerts=body, attempt=1,
                    due_ms=now_ms, claimed_until_ms=0, created_ms=now_ms) for r in receiver_ids]
    with Session(engine, expire_on_commit=False) as session, session.begin():
        session.add_all(rows)
    return [r.id for r in rows]


def claim(engine: Engine, pending_id: int, attempt: int, now_ms: int, hold_ms: int) -> Job | None:
    """Take attempt `attempt` of the row for `hold_ms`; None when it is not ours to make (done, made by
    another process, taken, or not due yet)."""
    with Session(engine) as session, session.begin():
        taken = session.execute(
            update(Pending)
            .where(Pending.id == pending_id, Pending.attempt == attempt,
                   Pending.due_ms <= now_ms + EARLY_MS, Pending.claimed_until_ms <= now_ms)
            .values(claimed_until_ms=now_ms + hold_ms)).rowcount
        if taken != 1:
            return None
        row = session.get(Pending, pending_id)
        return Job(id=row.id, group_id=row.group_id, receiver_id=row.receiver_id, transition=row.transition,
                   alerts=json.loads(row.alerts), attempt=row.attempt)


def finish(session: Session, pending_id: int) -> None:
    """Sent, or given up: the row leaves (in the caller's transaction, with the delivery log's rows)."""
    session.execute(delete(Pending).where(Pending.id == pending_id))


def later(session: Session, pending_id: int, attempt: int, due_ms: int) -> None:
    """Attempt `attempt` is due at `due_ms`; the claim is released."""
    session.execute(update(Pending).where(Pending.id == pending_id)
                    .values(attempt=attempt, due_ms=due_ms, claimed_until_ms=0))


def due(engine: Engine, before_ms: int, now_ms: int, limit: int = 500) -> list[tuple[int, int, int]]:
    """(id, attempt, due_ms) of the rows due before `before_ms` that nobody holds now, soonest first."""
    query = (select(Pending.id, Pending.attempt, Pending.due_ms)
             .where(Pending.due_ms <= before_ms, Pending.claimed_until_ms <= now_ms)
             .order_by(Pending.due_ms, Pending.id).limit(limit))
    with Session(engine) as session:
        return [tuple(r) for r in session.execute(query)]


def count(engine: Engine) -> int:
    with Session(engine) as session:
        return len(session.scalars(select(Pending.id)).all())
