"""Pure helpers that read a (possibly partial) snapshot and format numbers for the screens.

A snapshot early in the day may miss any key or hold nulls; every reader here returns None for what
it cannot read, and every formatter shows None as "—".
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from ecc.timeutil import TZ
from layouts.i18n import t

DASH = "—"
_CENT = Decimal("0.01")
_WAN = Decimal(10_000)
_YI = Decimal(100_000_000)
_MILLION = Decimal(1_000_000)

FRESH_OK_S = 5.0
FRESH_WARN_S = 60.0
# A snapshot built on read is at most a second old (generated_at has whole seconds); an older one is a
# stale copy whose age adds to the delay.
SNAPSHOT_AGE_TOLERANCE_S = 2.0


# ---- reading ---------------------------------------------------------------------------------------

def get_in(data: object, *path: str, default: object = None) -> object:
    """data[path[0]][path[1]]… or `default` where a level is missing or not a mapping."""
    current = data
    for key in path:
        if not isinstance(current, Mapping) or key not in current:
            return default
        current = current[key]
    return default if current is None else current


def as_mapping(value: object) -> Mapping:
    return value if isinstance(value, Mapping) else {}


def as_int(value: object) -> int | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int):
        return value
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return int(number) if math.isfinite(number) else None


def as_float(value: object) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def as_decimal(value: object) -> Decimal | None:
    """Money arrives as a decimal string; never go through binary floating point."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, Decimal):
        return value if value.is_finite() else None
    if isinstance(value, float):
        value = repr(value)
    try:
        number = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        return None
    return number if number.is_finite() else None


# ---- formatting ------------------------------------------------------------------------------------

def fmt_int(value: object) -> str:
    number = as_int(value)
    return DASH if number is None else f"{number:,}"


def fmt_pct(value: object, digits: int = 1) -> str:
    """A ratio (0.375) as a percentage ("37.5%"); None (denominator 0) as "—"."""
    number = as_float(value)
    return DASH if number is None else f"{number * 100:.{digits}f}%"


def fmt_rate(value: object) -> str:
    number = as_float(value)
    if number is None:
        return DASH
    return f"{number:,.0f}" if number >= 100 else f"{number:,.1f}"


def money_parts(value: object, lang: str = "zh") -> tuple[str, str]:
    """(number, unit) of an amount in CNY.

    zh: 万 from ten thousand and 亿 from a hundred million, two decimals ("1,234.56", "万");
    en: the plain amount with commas ("12,345,600.00", "").
    """
    amount = as_decimal(value)
    if amount is None:
        return DASH, ""
    unit_key = None
    if lang != "en":
        if abs(amount) >= _YI:
            amount, unit_key = amount / _YI, "unit.yi"
        elif abs(amount) >= _WAN:
            amount, unit_key = amount / _WAN, "unit.wan"
    number = amount.quantize(_CENT, rounding=ROUND_HALF_UP)
    if number == 0:
        number = abs(number)  # no "-0.00"
    return f"{number:,.2f}", (t(unit_key, lang) if unit_key else "")


def fmt_money(value: object, lang: str = "zh") -> str:
    number, unit = money_parts(value, lang)
    return f"{number} {unit}" if unit else number


def short_money(value: object, lang: str = "zh") -> str:
    """An amount where room is short (a bar's label, a hint): zh 万/亿 as everywhere; en in millions
    ("2,100.0 M"), since the plain amount with cents does not fit (hovers keep the exact amount)."""
    amount = as_decimal(value)
    if lang == "en" and amount is not None and abs(amount) >= _MILLION:
        return f"{amount / _MILLION:,.1f} M"
    return fmt_money(amount, lang)


def freshness_level(seconds: object) -> str:
    """'ok' under 5 s, 'warn' under 60 s, 'bad' beyond or when unknown."""
    number = as_float(seconds)
    if number is None or number < 0:
        return "bad"
    if number < FRESH_OK_S:
        return "ok"
    if number < FRESH_WARN_S:
        return "warn"
    return "bad"


def snapshot_moment(snapshot: Mapping) -> datetime | None:
    """When the snapshot was built (`generated_at`) in Shanghai time; None when missing, not ISO-8601 or
    without an offset."""
    generated = get_in(snapshot, "generated_at")
    try:
        moment = datetime.fromisoformat(generated) if isinstance(generated, str) else None
    except ValueError:
        return None
    return moment.astimezone(TZ) if moment is not None and moment.tzinfo else None


def effective_freshness(snapshot: Mapping, now: datetime) -> float | None:
    """freshness_s plus the age of the snapshot itself when it is older than the tolerance.

    freshness_s is measured when the snapshot is built; a snapshot that stopped being rebuilt (a cached
    copy, a stuck worker) keeps its old small number. Adding now − generated_at keeps the badge honest.
    """
    fresh = as_float(get_in(snapshot, "freshness_s"))
    if fresh is None:
        return None
    fresh = max(0.0, fresh)  # events up to 5 min ahead are accepted: "now − newest" may dip below 0
    moment = snapshot_moment(snapshot)
    if moment is None:
        return fresh
    age = (now - moment).total_seconds()
    return fresh + age if age > SNAPSHOT_AGE_TOLERANCE_S else fresh


def fmt_freshness(seconds: object, lang: str = "zh") -> str:
    number = as_float(seconds)
    if number is None or number < 0:
        return t("fresh.unknown", lang)
    shown = f"{number:.1f}" if number < 10 else f"{number:,.0f}"
    return t("fresh.delay", lang, seconds=shown)


def fmt_day(day: object, lang: str = "zh") -> str:
    """'2026-11-21 星期六' / '2026-11-21 Sat'; the text as it is when it is not a date."""
    if not isinstance(day, str) or not day:
        return DASH
    try:
        weekday = datetime.strptime(day, "%Y-%m-%d").weekday()
    except ValueError:
        return day
    return f"{day} {t('weekday', lang).split(',')[weekday]}"


def share_of(part: object, whole: object) -> float | None:
    """part / whole, None when whole is 0 or unknown (a ratio, formatted by fmt_pct)."""
    a, b = as_float(part), as_float(whole)
    if a is None or not b:
        return None
    return a / b
