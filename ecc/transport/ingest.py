"""The door's publishing half: validated batches go to the events topic, rejections to the dead letters.

`ecc ingest FILE`, `POST /api/v1/events` and the simulator all call `Door.publish`, so every path
applies the same validation (validate) and ends in the same topics. An event counts as accepted only
once the broker has acknowledged it (acks=all); the others are `unacknowledged`, with the broker's reason,
and sending the same batch again is safe: a redelivered event_id is dropped downstream.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ecc.config import Settings
from ecc.contract import pii, validate
from ecc.transport.kafka import Publisher, event_topic, today_start_ms

log = logging.getLogger(__name__)


@dataclass
class IngestResult:
    accepted: int  # valid events the broker acknowledged
    rejected: int  # invalid events (each with a dead letter and a reason)
    errors: list[dict[str, Any]]  # {"index": i, "reason": "..."} for each rejection
    unacknowledged: int = 0  # valid events the broker did not acknowledge: send them again
    broker_error: str = ""  # why, in the broker's words
    dead_letters_unacknowledged: int = 0  # rejections whose dead letter the broker did not take
    not_sent: int = 0  # lines of a file left unread because the broker stopped acknowledging
    # False for the embedded broker, which keeps its log in memory: acknowledged events that no consumer
    # has stored yet are lost if it crashes (docs/architecture.md "Faults").
    broker_durable: bool = True

    @property
    def complete(self) -> bool:
        """Every valid event reached the broker."""
        return not (self.unacknowledged or self.not_sent)

    def to_dict(self) -> dict[str, Any]:
        return {"accepted": self.accepted, "rejected": self.rejected, "errors": self.errors,
                "unacknowledged": self.unacknowledged, "broker_error": self.broker_error,
                "dead_letters_unacknowledged": self.dead_letters_unacknowledged, "not_sent": self.not_sent,
                "broker_durable": self.broker_durable}


class Door:
    def __init__(self, settings: Settings, publisher: Publisher | None = None):
        self.settings = settings
        self._publisher = publisher or Publisher(settings)

    def publish(self, batch: validate.Batch) -> IngestResult:
        s = self.settings
        start = today_start_ms()  # events before today go to the history topic (a backfill waits its turn)
        messages = [(event_topic(s, e.ts_ms, start), e.key, e.to_json()) for e in batch.accepted]
        messages += [(s.topic_rejects, r.reject_id, r.to_json()) for r in batch.rejected]
        delivery = self._publisher.deliver(messages)
        n = len(batch.accepted)
        acked = delivery.count(0, n)
        result = IngestResult(acked, len(batch.rejected),
                              [{"index": r.index, "reason": r.reason} for r in batch.rejected],
                              unacknowledged=n - acked,
                              broker_error=pii.mask_text("; ".join(delivery.errors[:3])),
                              dead_letters_unacknowledged=len(batch.rejected) - delivery.count(n),
                              broker_durable=s.broker_durable)
        if batch.rejected:
            log.info("rejected %d of %d events (first: %s)", len(batch.rejected), len(messages),
                     batch.rejected[0].reason)
        if result.unacknowledged or result.dead_letters_unacknowledged:
            log.error("the broker did not acknowledge %d events and %d dead letters: %s",
                      result.unacknowledged, result.dead_letters_unacknowledged, result.broker_error)
        return result

    def publish_lines(self, lines: Iterable[str | bytes], source: str, start: int = 0) -> IngestResult:
        return self.publish(validate.parse_lines(lines, source=source, phone_key=self.settings.phone_hash_key,
                                                 start=start, history_days=self.settings.history_days))

    def publish_objects(self, objs: list[Any], source: str) -> IngestResult:
        s = self.settings
        return self.publish(validate.check_objects(objs, source=source, phone_key=s.phone_hash_key,
                                                   history_days=s.history_days))


def ingest_file(door: Door, path: Path, chunk: int = 10_000) -> IngestResult:
    """Publish a JSON Lines file in chunks; OSError propagates for an unreadable file. A chunk of which the
    broker acknowledged nothing stops the run (the broker is down: waiting out each chunk would only
    repeat the timeout); the lines left are counted as `not_sent`."""
    total = IngestResult(0, 0, [], broker_durable=door.settings.broker_durable)
    with path.open("rb") as fh:
        lines: list[bytes] = []
        offset = 0
        for line in fh:
            lines.append(line)
            if len(lines) >= chunk:
                part = door.publish_lines(lines, "file", start=offset)
                _add(total, part)
                offset += len(lines)
                lines = []
                if part.unacknowledged and not part.accepted:
                    total.not_sent = sum(1 for rest in fh if rest.strip())
                    return total
        if lines:
            _add(total, door.publish_lines(lines, "file", start=offset))
    return total


def _add(total: IngestResult, part: IngestResult) -> None:
    total.accepted += part.accepted
    total.rejected += part.rejected
    total.errors.extend(part.errors)
    total.unacknowledged += part.unacknowledged
    total.dead_letters_unacknowledged += part.dead_letters_unacknowledged
    total.broker_error = total.broker_error or part.broker_error
