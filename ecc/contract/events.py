"""The normalised event: what the door (`ecc.contract.validate`) lets in and every consumer reads.

One flat record for all six types, so that the Kafka payload, the live store and the ClickHouse row
are the same shape. Money is kept as a decimal string ("50000.00"), time as UTC epoch milliseconds.
Phones exist here only as `phone_masked` and `phone_hash`.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import orjson


@dataclass(slots=True)
class Event:
    event_id: str
    type: str
    ts_ms: int
    channel: str = ""
    lead_id: str = ""
    account_id: str = ""
    step: int = 0
    status: str = ""
    reason: str = ""
    outcome: str = ""
    caller: str = ""  # the contract's `by` (robot | agent)
    amount: str = "0"
    direction: str = ""
    first: bool = False
    product: str = ""
    province: str = ""
    city: str = ""
    device: str = ""
    campaign: str = ""
    level: str = ""
    segment: str = ""
    holdings: dict[str, str] = field(default_factory=dict)
    phone_masked: str = ""
    phone_hash: str = ""

    @property
    def ts(self) -> datetime:
        return datetime.fromtimestamp(self.ts_ms / 1000, tz=UTC)

    @property
    def amount_fen(self) -> int:
        """Amount in fen (0.01 CNY) as an exact integer, for counters."""
        return int(Decimal(self.amount) * 100)

    @property
    def key(self) -> str:
        """Kafka message key: events of one lead (or account) stay in one partition, in order."""
        return self.lead_id or self.account_id or self.event_id

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def to_json(self) -> bytes:
        # orjson writes what json.dumps(ensure_ascii=False, separators=(",", ":")) wrote, 5-10x faster;
        # the dict is built by hand because asdict() deep-copies.
        return orjson.dumps({name: getattr(self, name) for name in _FIELD_NAMES})

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Event:
        return cls(**{k: data[k] for k in _FIELD_NAMES if k in data})

    @classmethod
    def from_json(cls, payload: bytes | str) -> Event:
        return cls.from_dict(orjson.loads(payload))


_FIELD_NAMES = tuple(f.name for f in fields(Event))


@dataclass(slots=True)
class Rejection:
    """A line or object that is not a valid event, kept with why (dead-letter store)."""

    reason: str
    raw: str  # the input as received, phone numbers masked, at most RAW_LIMIT characters
    source: str  # file | http | kafka | simulator
    received_ms: int
    reject_id: str  # unique per rejection; a redelivered dead letter is stored once
    index: int | None = None  # position in the batch (line number - 1 for files)

    def to_json(self) -> bytes:
        return json.dumps(asdict(self), ensure_ascii=False, separators=(",", ":")).encode()

    @classmethod
    def from_json(cls, payload: bytes | str) -> Rejection:
        return cls(**json.loads(payload))
