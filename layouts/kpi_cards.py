"""The KPI cards of the wall and the sub-screens: their ids and pure view functions (snapshot in,
children out). Each part of a card is its own callback output, so a refresh changes text in place."""

from __future__ import annotations

from collections.abc import Mapping

from dash import html

from layouts.compare import kpi_compare, night_hint
from layouts.formatting import (
    as_decimal,
    as_float,
    as_int,
    fmt_int,
    fmt_money,
    fmt_pct,
    get_in,
    money_parts,
    share_of,
)
from layouts.i18n import t
from layouts.watermarks import watermark


def kpi_id(key: str) -> str:
    """The element holding a KPI's value (text, plus the raw number in `data-value`)."""
    return f"kpi-{key}"


def kpi_hint_id(key: str) -> str:
    return f"kpi-hint-{key}"


def kpi_card_id(key: str) -> str:
    return f"kpi-card-{key}"


def kpi_compare_id(key: str) -> str:
    """The comparison row of a KPI card (same time yesterday / last week)."""
    return f"kpi-compare-{key}"


_COUNTS = ("leads", "opened", "first_deposits")
_RATIOS = ("dial_rate", "open_rate")
_MONEY = ("deposit_amount", "net_inflow")

def kpi_value(key: str, snapshot: Mapping, lang: str) -> tuple[list, str, str]:
    """(children, data-value, extra class names) of one KPI value."""
    if key in _COUNTS:
        number = as_int(get_in(snapshot, "totals", key))
        return [fmt_int(number)], "" if number is None else str(number), ""
    if key in _RATIOS:
        ratio = as_float(get_in(snapshot, "ratios", key))
        return [fmt_pct(ratio)], "" if ratio is None else repr(ratio), ""
    amount = as_decimal(get_in(snapshot, "totals", key))
    number, unit = money_parts(amount, lang)
    children: list = [number, " ", html.Span(unit, className="kpi-unit")] if unit else [number]
    sign = "" if amount is None or amount == 0 else (" pos" if amount > 0 else " neg")
    return children, "" if amount is None else str(amount), sign if key == "net_inflow" else ""


def kpi_hint(key: str, snapshot: Mapping, lang: str) -> str:
    night = night_hint(key, snapshot, lang)
    if night:
        return night
    totals = get_in(snapshot, "totals", default={})
    if key in ("leads", "opened"):
        yesterday = as_int(get_in(snapshot, "previous_day", key))
        if yesterday is None:
            return t("hint.yesterday_none", lang)
        share = share_of(get_in(totals, key), yesterday)
        return t("hint.yesterday", lang, value=fmt_int(yesterday), share=fmt_pct(share))
    if key == "dial_rate":
        return t("hint.dialed", lang, dialed=fmt_int(get_in(totals, "dialed_leads")),
                 connected=fmt_int(get_in(totals, "connected_leads")))
    if key == "first_deposits":
        return t("hint.first_deposits", lang, rate=fmt_pct(get_in(snapshot, "ratios", "deposit_rate")))
    if key == "deposit_amount":
        return t("hint.deposit_amount", lang, amount=fmt_money(get_in(totals, "withdraw_amount"), lang))
    return t(f"hint.{key}", lang)


def kpi_parts(key: str, snapshot: Mapping, lang: str) -> tuple[list, str, str, dict, str]:
    """(value children, data-value, value className, value style, hint) of one KPI card.

    The value's character count goes to CSS (`--chars`) which shrinks long numbers to fit the card.
    Each part is its own callback output, so a refresh changes text in place and never re-creates a card.
    """
    children, raw, extra = kpi_value(key, snapshot, lang)
    chars = sum(len(part) for part in children if isinstance(part, str)) + (1 if len(children) > 1 else 0)
    return children, raw, f"kpi-value{extra}", {"--chars": str(max(chars, 5))}, kpi_hint(key, snapshot, lang)


KPI_PROPS = ("children", "data-value", "className", "style")  # of the value element, in kpi_parts order


def kpi_card(key: str, snapshot: Mapping, lang: str, value_id: object = None, hint_id: object = None,
             compare_id: object = None, prefix: str = "wall") -> list:
    """Children of one KPI card: label, value (id `kpi-<key>` on the wall), hint, comparison row, and the
    live source's watermark (shown only once late: the header's 数据延迟 badge says it while fresh)."""
    children, raw, css, style, hint = kpi_parts(key, snapshot, lang)
    return [
        watermark(prefix, f"kpi-{key}", "live", lang),
        html.Div(t(f"kpi.{key}", lang), className="kpi-label"),
        html.Div(children, id=value_id or kpi_id(key), className=css, style=style, **{"data-value": raw}),
        html.Div(hint, id=hint_id or kpi_hint_id(key), className="kpi-hint"),
        html.Div(kpi_compare(key, snapshot, lang), id=compare_id or kpi_compare_id(key),
                 className="kpi-compare"),
    ]
