"""Pure views of the wall context (layouts/context.py): KPI change against the same time yesterday and
last week (同比/环比), funnel breakpoints judged against their own baseline, and the night note.

Every function reads a snapshot whose "context" may be missing (before the first minute's answer, or
with no ClickHouse behind the app) and then shows "—" rather than a made-up number.
"""

from __future__ import annotations

from collections.abc import Mapping

from dash import html

from layouts.formatting import DASH, as_decimal, as_float, as_int, get_in, snapshot_moment
from layouts.i18n import t
from layouts.session import session_at

COUNTS = ("leads", "opened", "first_deposits")
RATIOS = ("dial_rate", "open_rate")
MONEY = ("deposit_amount", "net_inflow")
SHIFTS = ("previous_day", "previous_week")
# A breakpoint is marked when its conversion is at least this far below its baseline (relative) ...
MARK_BELOW = 0.20
SEVERE_BELOW = 0.40
# ... with at least this many baseline days that had enough leads at the step.
MIN_BASELINE_DAYS = 3


def today_value(key: str, snapshot: Mapping) -> object:
    """Today's number of a KPI in the live snapshot (the card's own value)."""
    return get_in(snapshot, "ratios" if key in RATIOS else "totals", key)


def context(snapshot: Mapping) -> Mapping:
    """The snapshot's wall context, if it is for the snapshot's own day (not yesterday's, just after
    midnight, nor missing)."""
    ctx = get_in(snapshot, "context", default={})
    if not isinstance(ctx, Mapping):
        return {}
    day, cut = get_in(snapshot, "day"), get_in(ctx, "cut")
    if isinstance(day, str) and isinstance(cut, str) and not cut.startswith(day):
        return {}
    return ctx


def previous_value(key: str, snapshot: Mapping, shift: str) -> object:
    return get_in(context(snapshot), "compare", shift, "kpis", key)


def change(key: str, now_value: object, before: object) -> tuple[float | None, str]:
    """(signed change, unit): ratios in percentage points, counts and money relative to `before`.
    None when there is nothing to compare with (no value, or a zero or negative base for a relative
    change: "+∞ %" and "−(−x)" mislead)."""
    if key in RATIOS:
        a, b = as_float(now_value), as_float(before)
        return (None if a is None or b is None else (a - b) * 100), "pp"
    if key in MONEY:
        a, b = as_decimal(now_value), as_decimal(before)
        return (None if a is None or b is None or b <= 0 else float((a - b) / b)), "%"
    a, b = as_int(now_value), as_int(before)
    return (None if a is None or b is None or b <= 0 else (a - b) / b), "%"


def fmt_change(value: float | None, unit: str) -> tuple[str, str]:
    """(text, css) of a change: "▲12.3%" up (red: the market's colour for up), "▼4.0%" down (green)."""
    if value is None:
        return DASH, "flat"
    shown = value if unit == "pp" else value * 100
    if round(shown, 1) == 0:
        return f"0.0{'pp' if unit == 'pp' else '%'}", "flat"
    arrow, css = ("▲", "up") if shown > 0 else ("▼", "down")
    if unit == "%" and abs(shown) >= 1000:  # from a tiny base: the size of the change says nothing
        return f"{arrow}>999%", css
    return f"{arrow}{abs(shown):.1f}{'pp' if unit == 'pp' else '%'}", css


def raw(value: object) -> str:
    """The value as the API gives it (decimal string, integer, float repr), for `data-*` attributes."""
    if value is None:
        return ""
    return repr(value) if isinstance(value, float) else str(value)


def kpi_compare(key: str, snapshot: Mapping, lang: str) -> list:
    """Children of a KPI card's comparison row: one item per shift, its raw base and window in data-*."""
    items = []
    for shift in SHIFTS:
        before = previous_value(key, snapshot, shift)
        text, css = fmt_change(*change(key, today_value(key, snapshot), before))
        window = get_in(context(snapshot), "compare", shift, default={})
        items.append(html.Span([
            html.Span(t(f"compare.{shift}", lang), className="cmp-label"),
            html.Span(text, className="cmp-delta"),
        ], className=f"cmp cmp-{css}", title=t(f"compare.{shift}.title", lang),
            **{"data-shift": shift, "data-base": raw(before), "data-from": str(window.get("from") or ""),
               "data-to": str(window.get("to") or "")}))
    return items


# ---- outside business hours ------------------------------------------------------------------------

def quiet_hours(snapshot: Mapping) -> bool:
    """The snapshot was taken outside business hours (night): low numbers are normal then."""
    moment = snapshot_moment(snapshot)
    return moment is not None and not session_at(moment).business_hours


def night_hint(key: str, snapshot: Mapping, lang: str) -> str | None:
    """A KPI that is 0 at night is explained instead of looking like an outage."""
    value = today_value(key, snapshot)
    zero = (as_float(value) == 0) if key not in MONEY else (as_decimal(value) == 0)
    if quiet_hours(snapshot) and (zero or value is None):
        return t("hint.night_zero", lang)
    return None


# ---- funnel breakpoints against their own baseline ---------------------------------------------------

def breakpoints(snapshot: Mapping) -> dict[int, dict]:
    """Step k (1..10) -> {"today", "baseline", "below"} for each breakpoint judged: today's conversion
    reach[k+1]/reach[k] against the median of the same hours on recent days (context "baseline").

    Judged only with enough leads at the step today (the baseline's own `min_reach`) and enough baseline
    days; `below` = 1 − today/baseline (0.3 = 30 % below its usual)."""
    base = get_in(context(snapshot), "baseline", default={})
    min_reach = as_int(get_in(base, "min_reach")) or 20
    out = {}
    for k in range(1, 11):
        reach = as_int(get_in(snapshot, "totals", "reach", str(k))) or 0
        today = as_float(get_in(snapshot, "ratios", "step_conversion", str(k)))
        median = as_float(get_in(base, "steps", str(k), "median"))
        days = as_int(get_in(base, "steps", str(k), "days")) or 0
        if today is None or median is None or not median or reach < min_reach or days < MIN_BASELINE_DAYS:
            continue
        out[k] = {"today": today, "baseline": median, "below": max(0.0, 1 - today / median)}
    return out


def marked(judged: Mapping[int, Mapping]) -> dict[int, str]:
    """Step -> "warn" | "bad" for the breakpoints far enough below their baseline."""
    out = {}
    for k, row in judged.items():
        if row["below"] >= SEVERE_BELOW:
            out[k] = "bad"
        elif row["below"] >= MARK_BELOW:
            out[k] = "warn"
    return out
