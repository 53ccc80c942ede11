"""Field checkers of the event contract: value in, normalised value out, InvalidEvent on a bad value.

Every reason quotes the bad value through `show`: phone numbers masked, at most 80 characters, so that
a reason can be stored, logged and shown (docs/events.md: personal data never lands anywhere).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from ecc.contract import catalogue, pii

MAX_FUTURE_MS = 5 * 60 * 1000
HISTORY_DAYS = 730  # default history horizon (ECC_HISTORY_DAYS): older events are rejected
DAY_MS = 86_400_000
# Money per event stays below 10^10 CNY: no single deposit, trade or holding of a retail account is that
# large, and an amount can then never carry an 11-digit mobile number into a store (ecc.contract.pii).
MAX_AMOUNT = Decimal("1e10")
_CHANNEL_RE = re.compile(r"[a-z0-9_]{1,32}")
_CENT = Decimal("0.01")


class InvalidEvent(ValueError):
    """An input that the contract rejects; the message says why (with any phone number masked)."""


def show(value: Any) -> str:
    """A bad value as quoted in a reason: phone numbers masked, at most 80 characters."""
    if isinstance(value, str):
        text = repr(pii.mask_text(value))
    elif isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 200:
        text = "a very long integer"
    elif value is None or isinstance(value, bool | int | float | Decimal):
        text = pii.mask_text(str(value))
    else:
        text = kind(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _string(name: str, value: Any, max_len: int) -> str:
    if not isinstance(value, str):
        raise InvalidEvent(f"{name} must be a string, got {kind(value)}")
    if not 1 <= len(value) <= max_len:
        raise InvalidEvent(f"{name} must be 1..{max_len} characters, got {len(value)}")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidEvent(f"{name} is not valid Unicode (it holds a lone surrogate)") from None
    return value


def free_text(max_len: int) -> Callable[[str, Any], str]:
    """Free text (campaign, city, reason…): a phone number in it is masked, the rest kept."""
    def check(name: str, value: Any) -> str:
        return pii.mask_text(_string(name, value, max_len))
    return check


def identifier(max_len: int) -> Callable[[str, Any], str]:
    """An id: kept exactly (it joins events), so one that holds a phone number cannot be let in."""
    def check(name: str, value: Any) -> str:
        _string(name, value, max_len)
        if pii.has_phone(value):
            raise InvalidEvent(f"{name} holds a phone number ({show(value)}); "
                               "ids must not carry personal data")
        return value
    return check


def one_of(options: Iterable[str]) -> Callable[[str, Any], str]:
    allowed = tuple(options)

    def check(name: str, value: Any) -> str:
        if not isinstance(value, str) or value not in allowed:
            raise InvalidEvent(f"{name} must be one of {', '.join(allowed)}, got {show(value)}")
        return value
    return check


def check_channel(name: str, value: Any) -> str:
    if not isinstance(value, str) or not _CHANNEL_RE.fullmatch(value):
        raise InvalidEvent(f"{name} must match [a-z0-9_]{{1,32}}, got {show(value)}")
    if pii.has_phone(value):
        raise InvalidEvent(f"{name} holds a phone number ({show(value)}); "
                           "codes must not carry personal data")
    return value


def step_number(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 11:
        raise InvalidEvent(f"{name} must be an integer 1..11, got {show(value)}")
    return value


def boolean(name: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise InvalidEvent(f"{name} must be true or false, got {show(value)}")
    return value


def parse_money(name: str, value: Any, *, allow_zero: bool = False) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, int | str | Decimal | float):
        raise InvalidEvent(f"{name} must be a decimal number or string, got {kind(value)}")
    if (isinstance(value, int) and value.bit_length() > 200) or (isinstance(value, str) and len(value) > 64):
        raise InvalidEvent(f"{name} is too large: {show(value)}")
    try:
        amount = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        raise InvalidEvent(f"{name} is not a decimal number: {show(value)}") from None
    if not amount.is_finite():
        raise InvalidEvent(f"{name} must be finite, got {show(value)}")
    # Size first: quantize() of a number wider than the context's 28 digits raises InvalidOperation.
    if amount >= MAX_AMOUNT or amount <= -MAX_AMOUNT:
        raise InvalidEvent(f"{name} is too large (at most 9999999999.99 CNY per event): {show(value)}")
    if amount.as_tuple().exponent < -2 and amount != amount.quantize(_CENT):
        raise InvalidEvent(f"{name} has more than 2 decimals: {show(value)}")
    if amount < 0 or (amount == 0 and not allow_zero):
        raise InvalidEvent(f"{name} must be {'>= 0' if allow_zero else '> 0'}, got {show(value)}")
    return amount.quantize(_CENT)


def amount_text(name: str, value: Any) -> str:
    return str(parse_money(name, value))


def holdings(name: str, value: Any) -> dict[str, str]:
    if not isinstance(value, dict):
        raise InvalidEvent(f"{name} must be an object of asset class to amount, got {kind(value)}")
    out = {}
    for cls, amount in value.items():
        if cls not in catalogue.ASSET_CLASSES:
            raise InvalidEvent(f"{name} has unknown asset class {show(cls)} "
                               f"(use {', '.join(catalogue.ASSET_CLASSES)})")
        out[cls] = str(parse_money(f"{name}.{cls}", amount, allow_zero=True))
    return out


def kind(value: Any) -> str:
    return {dict: "object", list: "array", str: "string", bool: "boolean", type(None): "null"}.get(
        type(value), "number")


def parse_ts(value: Any, now_ms: int, history_days: int = HISTORY_DAYS) -> int:
    if not isinstance(value, str):
        raise InvalidEvent(f"ts must be an ISO-8601 string with UTC offset, got {kind(value)}")
    try:
        moment = datetime.fromisoformat(value) if len(value) <= 64 else None
    except ValueError:
        moment = None
    if moment is None:
        raise InvalidEvent(f"ts is not an ISO-8601 timestamp: {show(value)}")
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise InvalidEvent(f"ts has no UTC offset: {show(value)} (write e.g. 2026-11-21T09:30:05+08:00)")
    try:
        ts_ms = int(moment.timestamp() * 1000)
    except (OverflowError, ValueError, OSError):  # year 1 or 9999 with an offset that leaves the calendar
        raise InvalidEvent(f"ts is out of range: {show(value)}") from None
    if ts_ms > now_ms + MAX_FUTURE_MS:
        raise InvalidEvent(f"ts is more than 5 minutes in the future: {show(value)}")
    if ts_ms < now_ms - history_days * DAY_MS:
        raise InvalidEvent(f"ts is older than the history horizon of {history_days} days "
                           f"(ECC_HISTORY_DAYS): {show(value)}")
    return ts_ms
