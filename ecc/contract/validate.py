"""The door: one validator for docs/events.md, used by every ingest path.

`validate(obj)` returns an `Event` or raises `InvalidEvent` with a reason a person can act on.
`parse_lines` / `check_objects` turn raw input into accepted events and `Rejection`s, so that a bad line
never takes the good ones in the same batch down with it: they never raise for any content (bytes that
are not UTF-8, JSON nested 100k deep, numbers of any size, anything a parser can throw). Each type's
fields are a table of small checkers rather than a chain of ifs.

Personal data: a mobile number in any free-text field is masked before the event leaves the door; an id
or a channel holding one is rejected; reasons and dead-letter copies are masked (ecc.contract.pii).
"""

from __future__ import annotations

import json
import logging
import time
import traceback
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from ecc.contract import catalogue, pii
from ecc.contract.checks import (  # noqa: F401 - InvalidEvent, check_channel, parse_money: validate.* API too
    HISTORY_DAYS,
    MAX_FUTURE_MS,
    InvalidEvent,
    amount_text,
    boolean,
    check_channel,
    free_text,
    holdings,
    identifier,
    kind,
    one_of,
    parse_money,
    parse_ts,
    show,
    step_number,
)
from ecc.contract.events import Event, Rejection

log = logging.getLogger(__name__)

RAW_LIMIT = 4000
MAX_LINE_BYTES = 1 << 20  # one event is a few hundred bytes; a 1 MiB line is a mistake or an attack
MAX_DEPTH = 32  # events nest 2 levels (holdings); deeper JSON is rejected before anything recurses
MAX_INT_DIGITS = 40
_JSON_SPACE = " \t\r\n"


@dataclass(frozen=True)
class FieldRule:
    name: str  # the contract's field name
    check: Callable[[str, Any], Any]
    required: bool = False
    attr: str | None = None  # the Event attribute, when it differs from the contract's name

    @property
    def target(self) -> str:
        return self.attr or self.name


_ID = identifier(128)
_OPT_TEXT = free_text(128)
_LEAD = FieldRule("lead_id", _ID, required=True)
_ACCOUNT = FieldRule("account_id", _ID, required=True)
_CHANNEL_OPT = FieldRule("channel", check_channel)
_CHANNEL_REQ = FieldRule("channel", check_channel, required=True)
_PROVINCE = FieldRule("province", free_text(32))

RULES: dict[str, tuple[FieldRule, ...]] = {
    "lead": (_LEAD, _CHANNEL_REQ, FieldRule("campaign", _OPT_TEXT), _PROVINCE,
             FieldRule("city", free_text(32)), FieldRule("device", one_of(catalogue.DEVICES))),
    "step": (_LEAD, _CHANNEL_REQ, FieldRule("step", step_number, required=True),
             FieldRule("status", one_of(catalogue.STEP_STATUSES)), FieldRule("reason", free_text(256)),
             FieldRule("account_id", _ID)),
    "call": (_LEAD, _CHANNEL_OPT, FieldRule("outcome", one_of(catalogue.CALL_OUTCOMES), required=True),
             FieldRule("by", one_of(catalogue.CALLERS), attr="caller")),
    "deposit": (_ACCOUNT, _CHANNEL_OPT, FieldRule("amount", amount_text, required=True),
                FieldRule("direction", one_of(catalogue.DIRECTIONS)), FieldRule("first", boolean)),
    "asset": (_ACCOUNT, _CHANNEL_OPT, FieldRule("holdings", holdings, required=True),
              FieldRule("level", one_of(catalogue.LEVELS)),
              FieldRule("segment", one_of(catalogue.SEGMENTS)), _PROVINCE),
    "trade": (_ACCOUNT, _CHANNEL_OPT, FieldRule("amount", amount_text, required=True),
              FieldRule("product", one_of(catalogue.PRODUCTS), required=True)),
}
_DEFAULTS = {"step": {"status": "done"}, "deposit": {"direction": "in"}}


def validate(obj: Any, *, phone_key: str, now_ms: int | None = None,
             history_days: int = HISTORY_DAYS) -> Event:
    """One raw event object (as decoded JSON) to a normalised Event, or InvalidEvent."""
    if not isinstance(obj, dict):
        raise InvalidEvent(f"an event must be a JSON object, got {kind(obj)}")
    event_id = obj.get("event_id")
    if event_id is None:
        raise InvalidEvent("event_id is missing")
    identifier(64)("event_id", event_id)
    etype = obj.get("type")
    if etype is None:
        raise InvalidEvent("type is missing")
    if not isinstance(etype, str) or etype not in RULES:
        raise InvalidEvent(f"type must be one of {', '.join(catalogue.EVENT_TYPES)}, got {show(etype)}")
    if "ts" not in obj:
        raise InvalidEvent("ts is missing")
    now = int(time.time() * 1000) if now_ms is None else now_ms
    values: dict[str, Any] = {"event_id": event_id, "type": etype,
                              "ts_ms": parse_ts(obj["ts"], now, history_days)}
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
        values.update(_phone(obj["phone"], phone_key))
    return Event(**values)


def _phone(value: Any, phone_key: str) -> dict[str, str]:
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise InvalidEvent(f"phone must be a string, got {kind(value)}")
    if (isinstance(value, int) and not 0 <= value < 10**16) or (isinstance(value, str) and len(value) > 64):
        raise InvalidEvent("phone is not a phone number (7 to 15 digits)")
    try:
        digits = pii.normalise_phone(str(value))
        return {"phone_masked": pii.mask_phone(digits), "phone_hash": pii.hash_phone(digits, phone_key)}
    except pii.PhoneError as exc:
        raise InvalidEvent(str(exc)) from None


def _too_deep(obj: Any, limit: int = MAX_DEPTH) -> bool:
    """Nesting deeper than `limit`, found without recursion (recursion is what deep JSON attacks)."""
    stack = [(obj, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict):
            children: Iterable[Any] = node.values()
        elif isinstance(node, list | tuple):
            children = node
        else:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children)
    return False


def _clean(text: str) -> str:
    """Valid UTF-8 whatever came in (a lone surrogate from a JSON escape becomes its escape again)."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def masked_raw(obj: Any = None, text: str | None = None) -> str:
    """The raw input as kept for operators: phone numbers masked (keys and values), length capped."""
    if obj is not None:
        if _too_deep(obj):
            return f"(a JSON value nested deeper than {MAX_DEPTH} levels; not kept)"
        try:
            if isinstance(obj, dict) and "phone" in obj:
                obj = {**obj, "phone": pii.mask_value(obj["phone"])}
            text = json.dumps(obj, ensure_ascii=False, default=str)
        except (TypeError, ValueError, RecursionError) as exc:
            text = f"(an unprintable {type(obj).__name__}: {type(exc).__name__})"
    # Mask before cutting, so that the cut cannot leave the head of a number unmasked; the extra 64
    # characters hold any number that straddles the limit.
    return _clean(pii.mask_text((text or "")[: RAW_LIMIT + 64])[:RAW_LIMIT])


def _reject(reason: str, raw: str, source: str, index: int | None) -> Rejection:
    return Rejection(reason=_clean(pii.mask_text(reason)), raw=raw, source=source,
                     received_ms=int(time.time() * 1000), reject_id=uuid.uuid4().hex, index=index)


def _int(text: str) -> int:
    if len(text.lstrip("-")) > MAX_INT_DIGITS:
        raise InvalidEvent(f"an integer has more than {MAX_INT_DIGITS} digits")
    return int(text)


def _constant(name: str) -> Any:
    raise InvalidEvent(f"{name} is not a JSON number")


def _not_utf8(exc: UnicodeDecodeError) -> str:
    return f"is not valid UTF-8 (byte 0x{exc.object[exc.start]:02x} at position {exc.start})"


def decode(text: str | bytes) -> Any:
    """JSON with exact decimals (a float would lose cents). Any content problem is a ValueError
    (InvalidEvent for encoding, depth, NaN/Infinity, giant integers), never another exception."""
    if isinstance(text, bytes | bytearray):
        try:
            text = bytes(text).decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise InvalidEvent(_not_utf8(exc)) from None
    try:
        obj = json.loads(text, parse_float=Decimal, parse_int=_int, parse_constant=_constant)
    except RecursionError:
        obj = None
        too_deep = True
    else:
        too_deep = _too_deep(obj)
    if too_deep:
        raise InvalidEvent(f"JSON nested deeper than {MAX_DEPTH} levels")
    return obj


@dataclass
class Batch:
    accepted: list[Event]
    rejected: list[Rejection]


def _unexpected(exc: Exception, where: str) -> str:
    """The last line of defence: an exception no checker foresaw becomes a rejection, and a log record
    with the code path (frames only: the message may quote the input)."""
    log.error("unexpected %s while checking %s (a bug: please report)\n%s", type(exc).__name__, where,
              pii.mask_text("".join(traceback.format_tb(exc.__traceback__))))
    return f"{where} could not be checked ({type(exc).__name__}); it was not accepted"


def _check_one(batch: Batch, obj: Any, source: str, index: int, opts: dict[str, Any]) -> None:
    try:
        if _too_deep(obj):
            raise InvalidEvent(f"JSON nested deeper than {MAX_DEPTH} levels")
        batch.accepted.append(validate(obj, **opts))
    except InvalidEvent as exc:
        batch.rejected.append(_reject(str(exc), masked_raw(obj), source, index))
    except Exception as exc:
        batch.rejected.append(_reject(_unexpected(exc, f"event {index}"), masked_raw(obj), source, index))


def check_objects(objs: Iterable[Any], *, source: str, phone_key: str, now_ms: int | None = None,
                  start: int = 0, history_days: int = HISTORY_DAYS) -> Batch:
    """Decoded objects (a JSON array body): each one accepted or rejected on its own."""
    batch = Batch([], [])
    opts = {"phone_key": phone_key, "now_ms": now_ms, "history_days": history_days}
    for i, obj in enumerate(objs, start):
        _check_one(batch, obj, source, i, opts)
    return batch


def _raw_text(line: Any) -> str:
    if isinstance(line, bytes):
        return line[: RAW_LIMIT * 4].decode("utf-8", "backslashreplace")
    return line[: RAW_LIMIT * 4] if isinstance(line, str) else repr(type(line))


def _one_line(batch: Batch, line: Any, i: int, source: str, opts: dict[str, Any]) -> None:
    where = f"line {i + 1}"
    if isinstance(line, bytearray | memoryview):
        line = bytes(line)
    if line is None or not isinstance(line, str | bytes):
        batch.rejected.append(_reject(f"{where} is not text ({type(line).__name__})", "", source, i))
        return
    if len(line) > MAX_LINE_BYTES:
        batch.rejected.append(_reject(f"{where} is longer than {MAX_LINE_BYTES} bytes; one event a line",
                                      masked_raw(text=_raw_text(line)), source, i))
        return
    if isinstance(line, bytes):
        try:
            line = line.decode("utf-8")
        except UnicodeDecodeError as exc:  # a rejection, never a silent U+FFFD replacement
            batch.rejected.append(_reject(
                f"{where} {_not_utf8(exc)}",
                masked_raw(text=_raw_text(line).rstrip("\r\n")), source, i))
            return
    text = line.lstrip("\ufeff")  # a byte-order mark is harmless
    if not text.strip(_JSON_SPACE):  # blank; other "spaces" (\x1c, U+3000) are content, hence rejected
        return
    try:
        obj = decode(text)
    except InvalidEvent as exc:
        batch.rejected.append(_reject(f"{where}: {exc}", masked_raw(text=text.rstrip("\r\n")), source, i))
        return
    except ValueError as exc:
        batch.rejected.append(_reject(f"{where} is not valid JSON: {exc}",
                                      masked_raw(text=text.rstrip("\r\n")), source, i))
        return
    _check_one(batch, obj, source, i, opts)


def parse_lines(lines: Iterable[str | bytes], *, source: str, phone_key: str,
                now_ms: int | None = None, start: int = 0, history_days: int = HISTORY_DAYS) -> Batch:
    """JSON Lines: each non-blank line one event; a bad line is one rejection, never a failed batch."""
    batch = Batch([], [])
    opts = {"phone_key": phone_key, "now_ms": now_ms, "history_days": history_days}
    for i, line in enumerate(lines, start):
        try:
            _one_line(batch, line, i, source, opts)
        except Exception as exc:
            batch.rejected.append(_reject(_unexpected(exc, f"line {i + 1}"), masked_raw(text=_raw_text(line)),
                                          source, i))
    return batch
