"""The door: one validator for contract/events.md, used by every ingest path.

`validate(obj)` returns an `Event` or raises `InvalidEvent` with a reason a person can act on.
`parse_lines` / `parse_batch` turn raw text into accepted events and `Rejection`s, so that a bad line
never takes the good ones in the same batch down with it. Each type's fields are a table of small
checkers rather than a chain of ifs.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from ecc import catalogue, pii
from ecc.events import Event, Rejection

MAX_FUTURE_MS = 5 * 60 * 1000
RAW_LIMIT = 4000
_CHANNEL_RE = re.compile(r"[a-z0-9_]{1,32}")


class InvalidEvent(ValueError):
    """An input that the contract rejects; the message says why."""


# ---- field checkers: value in, normalised value out, InvalidEvent on a bad value ----

def _text(max_len: int) -> Callable[[str, Any], str]:
    def check(name: str, value: Any) -> str:
        if not isinstance(value, str):
            raise InvalidEvent(f"{name} must be a string, got {_kind(value)}")
        if not 1 <= len(value) <= max_len:
            raise InvalidEvent(f"{name} must be 1..{max_len} characters, got {len(value)}")
        return value
    return check


def _one_of(options: Iterable[str]) -> Callable[[str, Any], str]:
    allowed = tuple(options)

    def check(name: str, value: Any) -> str:
        if value not in allowed:
            raise InvalidEvent(f"{name} must be one of {', '.join(allowed)}, got {value!r}")
        return value
    return check


def check_channel(name: str, value: Any) -> str:
    if not isinstance(value, str) or not _CHANNEL_RE.fullmatch(value):
        raise InvalidEvent(f"{name} must match [a-z0-9_]{{1,32}}, got {value!r}")
    return value


def _step(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 11:
        raise InvalidEvent(f"{name} must be an integer 1..11, got {value!r}")
    return value


def _boolean(name: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise InvalidEvent(f"{name} must be true or false, got {value!r}")
    return value


def parse_money(name: str, value: Any, *, allow_zero: bool = False) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, (int, str, Decimal, float)):
        raise InvalidEvent(f"{name} must be a decimal number or string, got {_kind(value)}")
    try:
        amount = Decimal(str(value).strip())
    except InvalidOperation:
        raise InvalidEvent(f"{name} is not a decimal number: {value!r}") from None
    if not amount.is_finite():
        raise InvalidEvent(f"{name} must be finite, got {value!r}")
    if amount.as_tuple().exponent < -2 and amount != amount.quantize(Decimal("0.01")):
        raise InvalidEvent(f"{name} has more than 2 decimals: {value!r}")
    if amount < 0 or (amount == 0 and not allow_zero):
        raise InvalidEvent(f"{name} must be {'>= 0' if allow_zero else '> 0'}, got {value!r}")
    if amount >= Decimal("1e16"):
        raise InvalidEvent(f"{name} is too large: {value!r}")
    return amount.quantize(Decimal("0.01"))


def _amount(name: str, value: Any) -> str:
    return str(parse_money(name, value))


def _holdings(name: str, value: Any) -> dict[str, str]:
    if not isinstance(value, dict):
        raise InvalidEvent(f"{name} must be an object of asset class to amount, got {_kind(value)}")
    out = {}
    for cls, amount in value.items():
        if cls not in catalogue.ASSET_CLASSES:
            raise InvalidEvent(f"{name} has unknown asset class {cls!r} (use {', '.join(catalogue.ASSET_CLASSES)})")
        out[cls] = str(parse_money(f"{name}.{cls}", amount, allow_zero=True))
    return out


def _kind(value: Any) -> str:
    return {dict: "object", list: "array", str: "string", bool: "boolean", type(None): "null"}.get(
        type(value), "number")


@dataclass(frozen=True)
class FieldRule:
    name: str  # the contract's field name
    check: Callable[[str, Any], Any]
    required: bool = False
    attr: str | None = None  # the Event attribute, when it differs from the contract's name

    @property
    def target(self) -> str:
        return self.attr or self.name


_ID = _text(128)
_OPT_TEXT = _text(128)
_LEAD = FieldRule("lead_id", _ID, required=True)
_ACCOUNT = FieldRule("account_id", _ID, required=True)
_CHANNEL_OPT = FieldRule("channel", check_channel)
_CHANNEL_REQ = FieldRule("channel", check_channel, required=True)
_PROVINCE = FieldRule("province", _text(32))

RULES: dict[str, tuple[FieldRule, ...]] = {
    "lead": (_LEAD, _CHANNEL_REQ, FieldRule("campaign", _OPT_TEXT), _PROVINCE,
             FieldRule("city", _text(32)), FieldRule("device", _one_of(catalogue.DEVICES))),
    "step": (_LEAD, _CHANNEL_REQ, FieldRule("step", _step, required=True),
             FieldRule("status", _one_of(catalogue.STEP_STATUSES)), FieldRule("reason", _text(256)),
             FieldRule("account_id", _ID)),
    "call": (_LEAD, _CHANNEL_OPT, FieldRule("outcome", _one_of(catalogue.CALL_OUTCOMES), required=True),
             FieldRule("by", _one_of(catalogue.CALLERS), attr="caller")),
    "deposit": (_ACCOUNT, _CHANNEL_OPT, FieldRule("amount", _amount, required=True),
                FieldRule("direction", _one_of(catalogue.DIRECTIONS)), FieldRule("first", _boolean)),
    "asset": (_ACCOUNT, _CHANNEL_OPT, FieldRule("holdings", _holdings, required=True),
              FieldRule("level", _one_of(catalogue.LEVELS)), FieldRule("segment", _one_of(catalogue.SEGMENTS)),
              _PROVINCE),
    "trade": (_ACCOUNT, _CHANNEL_OPT, FieldRule("amount", _amount, required=True),
              FieldRule("product", _one_of(catalogue.PRODUCTS), required=True)),
}
_DEFAULTS = {"step": {"status": "done"}, "deposit": {"direction": "in"}}


def parse_ts(value: Any, now_ms: int) -> int:
    if not isinstance(value, str):
        raise InvalidEvent(f"ts must be an ISO-8601 string with UTC offset, got {_kind(value)}")
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise InvalidEvent(f"ts is not an ISO-8601 timestamp: {value!r}") from None
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise InvalidEvent(f"ts has no UTC offset: {value!r} (write e.g. 2026-11-21T09:30:05+08:00)")
    ts_ms = int(moment.timestamp() * 1000)
    if ts_ms > now_ms + MAX_FUTURE_MS:
        raise InvalidEvent(f"ts is more than 5 minutes in the future: {value!r}")
    return ts_ms


def validate(obj: Any, *, phone_key: str, now_ms: int | None = None) -> Event:
    """One raw event object (as decoded JSON) to a normalised Event, or InvalidEvent."""
    if not isinstance(obj, dict):
        raise InvalidEvent(f"an event must be a JSON object, got {_kind(obj)}")
    event_id = obj.get("event_id")
    if event_id is None:
        raise InvalidEvent("event_id is missing")
    _text(64)("event_id", event_id)
    etype = obj.get("type")
    if etype is None:
        raise InvalidEvent("type is missing")
    if etype not in RULES:
        raise InvalidEvent(f"type must be one of {', '.join(catalogue.EVENT_TYPES)}, got {etype!r}")
    if "ts" not in obj:
        raise InvalidEvent("ts is missing")
    now = int(time.time() * 1000) if now_ms is None else now_ms
    values: dict[str, Any] = {"event_id": event_id, "type": etype, "ts_ms": parse_ts(obj["ts"], now)}
    values.update(_DEFAULTS.get(etype, {}))
    for rule in RULES[etype]:
        raw = obj.get(rule.name)
        if raw is None:
            if rule.required:
                raise InvalidEvent(f"{rule.name} is missing (required for {etype} events)")
            continue
        values[rule.target] = rule.check(rule.name, raw)
    if etype == "step" and values["step"] == catalogue.OPENED_STEP and values["status"] == "done" \
            and not values.get("account_id"):
        raise InvalidEvent("account_id is missing (required for a done step 11)")
    if etype == "lead" and obj.get("phone") is not None:
        if not isinstance(obj["phone"], str | int) or isinstance(obj["phone"], bool):
            raise InvalidEvent(f"phone must be a string, got {_kind(obj['phone'])}")
        try:
            digits = pii.normalise_phone(str(obj["phone"]))
        except pii.PhoneError as exc:
            raise InvalidEvent(str(exc)) from None
        values["phone_masked"] = pii.mask_phone(digits)
        values["phone_hash"] = pii.hash_phone(digits, phone_key)
    return Event(**values)


def masked_raw(obj: Any = None, text: str | None = None) -> str:
    """The raw input as kept for operators: phone fields and mobile numbers masked, length capped."""
    if obj is not None:
        if isinstance(obj, dict) and "phone" in obj:
            obj = {**obj, "phone": pii.mask_value(obj["phone"])}
        text = json.dumps(obj, ensure_ascii=False, default=str)
    return pii.mask_text(text or "")[:RAW_LIMIT]


def _reject(reason: str, raw: str, source: str, index: int | None) -> Rejection:
    return Rejection(reason=reason, raw=raw, source=source, received_ms=int(time.time() * 1000),
                     reject_id=uuid.uuid4().hex, index=index)


def decode(text: str | bytes) -> Any:
    """JSON with exact decimals (a float would lose cents)."""
    return json.loads(text, parse_float=Decimal)


@dataclass
class Batch:
    accepted: list[Event]
    rejected: list[Rejection]


def check_objects(objs: Iterable[Any], *, source: str, phone_key: str, now_ms: int | None = None,
                  start: int = 0) -> Batch:
    batch = Batch([], [])
    for i, obj in enumerate(objs, start):
        try:
            batch.accepted.append(validate(obj, phone_key=phone_key, now_ms=now_ms))
        except InvalidEvent as exc:
            batch.rejected.append(_reject(str(exc), masked_raw(obj), source, i))
    return batch


def parse_lines(lines: Iterable[str | bytes], *, source: str, phone_key: str,
                now_ms: int | None = None, start: int = 0) -> Batch:
    """JSON Lines: each non-blank line one event; a malformed line is one rejection, not a failed batch."""
    batch = Batch([], [])
    for i, line in enumerate(lines, start):
        text = line.decode("utf-8", "replace") if isinstance(line, bytes) else line
        if not text.strip():
            continue
        try:
            obj = decode(text)
        except ValueError as exc:
            batch.rejected.append(_reject(f"line {i + 1} is not valid JSON: {exc}",
                                          masked_raw(text=text.rstrip("\n")), source, i))
            continue
        one = check_objects([obj], source=source, phone_key=phone_key, now_ms=now_ms, start=i)
        batch.accepted.extend(one.accepted)
        batch.rejected.extend(one.rejected)
    return batch
