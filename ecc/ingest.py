"""The door's publishing half: validated batches go to the events topic, rejections to the dead letters.

`ecc ingest FILE`, `POST /api/v1/events` and the simulator all call `Door.publish`, so every path
applies the same validation (ecc.validate) and ends in the same topics.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ecc import validate
from ecc.config import Settings
from ecc.kafka import Publisher

log = logging.getLogger(__name__)


@dataclass
class IngestResult:
    accepted: int
    rejected: int
    errors: list[dict[str, Any]]  # {"index": i, "reason": "..."} for each rejection

    def to_dict(self) -> dict[str, Any]:
        return {"accepted": self.accepted, "rejected": self.rejected, "errors": self.errors}


class Door:
    def __init__(self, settings: Settings, publisher: Publisher | None = None):
        self.settings = settings
        self._publisher = publisher or Publisher(settings)

    def publish(self, batch: validate.Batch) -> IngestResult:
        s = self.settings
        for event in batch.accepted:
            self._publisher.send(s.topic_events, event.key, event.to_json())
        for rej in batch.rejected:
            self._publisher.send(s.topic_rejects, rej.reject_id, rej.to_json())
        self._publisher.flush()
        if batch.rejected:
            log.info("rejected %d of %d events (first: %s)", len(batch.rejected),
                     len(batch.rejected) + len(batch.accepted), batch.rejected[0].reason)
        return IngestResult(len(batch.accepted), len(batch.rejected),
                            [{"index": r.index, "reason": r.reason} for r in batch.rejected])

    def publish_lines(self, lines: Iterable[str | bytes], source: str, start: int = 0) -> IngestResult:
        return self.publish(validate.parse_lines(lines, source=source, phone_key=self.settings.phone_hash_key,
                                                 start=start, history_days=self.settings.history_days))

    def publish_objects(self, objs: list[Any], source: str) -> IngestResult:
        return self.publish(validate.check_objects(objs, source=source, phone_key=self.settings.phone_hash_key,
                                                   history_days=self.settings.history_days))


def ingest_file(door: Door, path: Path, chunk: int = 10_000) -> IngestResult:
    """Publish a JSON Lines file in chunks; OSError/UnicodeError propagate for an unreadable file."""
    total = IngestResult(0, 0, [])
    with path.open("rb") as fh:
        lines: list[bytes] = []
        offset = 0
        for line in fh:
            lines.append(line)
            if len(lines) >= chunk:
                _add(total, door.publish_lines(lines, "file", start=offset))
                offset += len(lines)
                lines = []
        if lines:
            _add(total, door.publish_lines(lines, "file", start=offset))
    return total


def _add(total: IngestResult, part: IngestResult) -> None:
    total.accepted += part.accepted
    total.rejected += part.rejected
    total.errors.extend(part.errors)
