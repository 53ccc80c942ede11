"""The live store's wire format: an event (or its Kafka payload) as one compact record for ecc/live.lua.

Why a codec of its own: the stream worker spends most of its time per event, not per batch (docs/
benchmarks.md "where the worker's time goes"). So the hot path decodes each Kafka payload with orjson
straight into a record, without building an `Event`, and a whole batch travels to Redis as ONE JSON
argument (Lua's cjson decodes it in C) instead of 14 arguments per event that redis-py packs one by one
in Python.

A record is a list of strings (never numbers: Lua turns big numbers into "1e+14" when it hands them
back to Redis):
    [type, event_id, day, minute, ts_ms, channel, a1, a2, ...]
with `day` = Shanghai day "YYYYMMDD", `minute` = "HH:MM", and a1.. depending on the type:
    lead     lead_id
    step     lead_id, step, status, account_id
    call     lead_id, outcome
    deposit  account_id, direction, first ("1"/"0"), amount in fen
    trade    account_id, product, "", amount in fen
    asset    (nothing more: the script notes its freshness and remembers its event_id)

Asset snapshots move no counter: AUM sums every account's latest snapshot however old, which the live
store's window cannot hold, so the screens read it from ClickHouse (GET /api/v1/assets, layouts/context.py).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import timedelta
from decimal import Decimal
from typing import Any

import orjson

from ecc import timeutil

_MINUTE_MS = 60_000
_SHANGHAI = timedelta(hours=8)  # China has kept UTC+8 without daylight saving since 1991
_keys: dict[int, tuple[str, str]] = {}  # minute since the epoch -> (day key, minute key)


def _time_keys(ts_ms: int) -> tuple[str, str]:
    """(day key, minute key) of an instant; cached per minute (a batch has few distinct minutes)."""
    minute = ts_ms // _MINUTE_MS
    keys = _keys.get(minute)
    if keys is None:
        if len(_keys) > 200_000:
            _keys.clear()
        local = timeutil.to_local(minute * _MINUTE_MS)
        keys = _keys[minute] = (local.strftime("%Y%m%d"), local.strftime("%H:%M"))
    return keys


def fen(amount: Any) -> str:
    """A decimal amount ("50000.00", or a number) in fen, exactly."""
    return str(int(Decimal(str(amount)) * 100))


def _record(etype: str, event_id: str, ts_ms: int, channel: str, get) -> list[str]:
    day, minute = _time_keys(ts_ms)
    head = [etype, event_id, day, minute, str(ts_ms), channel]
    if etype == "lead":
        return [*head, get("lead_id", "")]
    if etype == "step":
        return [*head, get("lead_id", ""), str(get("step", 0)), get("status", ""), get("account_id", "")]
    if etype == "call":
        return [*head, get("lead_id", ""), get("outcome", "")]
    if etype == "deposit":
        return [*head, get("account_id", ""), get("direction", ""), "1" if get("first", False) else "0",
                fen(get("amount", "0"))]
    if etype == "trade":
        return [*head, get("account_id", ""), get("product", ""), "", fen(get("amount", "0"))]
    if etype == "asset":
        return head
    raise ValueError(f"unknown event type {etype!r}")


def from_payload(data: Mapping[str, Any]) -> list[str]:
    """The record of a decoded `Event.to_json()` payload (a dict with the Event's field names)."""
    return _record(data["type"], data["event_id"], int(data["ts_ms"]), data.get("channel", ""), data.get)


def from_event(event) -> list[str]:
    """The record of an `ecc.contract.events.Event`."""
    return _record(event.type, event.event_id, event.ts_ms, event.channel,
                   lambda name, default: getattr(event, name, default))


def decode(payload: bytes | str) -> dict[str, Any]:
    """A Kafka payload of the events topic as a dict; ValueError (orjson.JSONDecodeError) if not JSON."""
    data = orjson.loads(payload)
    if not isinstance(data, dict):
        raise ValueError(f"an event payload is a JSON object, not {type(data).__name__}")
    return data


def pack(records: Iterable[list[str]]) -> bytes:
    """A batch of records as the one Lua argument (a JSON array of arrays)."""
    return orjson.dumps(list(records))

