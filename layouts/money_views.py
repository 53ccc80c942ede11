"""Money and service views shared by the wall and the sub-screens: today's money flows, the turnover
rate (contract: turnover_rate) and its headline. Pure functions of the snapshot (today's flows from the
live counters, AUM from the wall context)."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal

from dash import html

from ecc.contract.catalogue import PRODUCTS
from layouts.figures import aum_now
from layouts.formatting import as_decimal, as_mapping, fmt_money, fmt_pct, get_in, short_money
from layouts.i18n import t


def trade_amount(snapshot: Mapping) -> Decimal | None:
    """Today's trade amount over every product (None before the first trade is known)."""
    trades = [as_decimal(v) for v in as_mapping(get_in(snapshot, "totals", "trade_amount")).values()]
    known = [v for v in trades if v is not None]
    return sum(known, Decimal(0)) if known else None


def turnover_rate(snapshot: Mapping) -> float | None:
    """Today's trade amount ÷ AUM now (contract: turnover_rate); None while AUM is 0 or unknown. AUM as
    the donut has it (figures.aum_now: the API's, from the wall context)."""
    aum = as_decimal(aum_now(snapshot).get("total"))
    if not aum:
        return None
    return float((trade_amount(snapshot) or Decimal(0)) / aum)


def big_figure(label: str, value: str, css: str = "") -> html.Div:
    return html.Div([html.Div(label, className="big-label"), html.Div(value, className=f"big-value {css}")],
                    className="big-figure")


def money_flows(snapshot: Mapping, lang: str) -> list:
    totals = get_in(snapshot, "totals", default={})
    net = as_decimal(get_in(totals, "net_inflow"))
    return [
        big_figure(t("money.deposit", lang), fmt_money(get_in(totals, "deposit_amount"), lang)),
        big_figure(t("money.withdraw", lang), fmt_money(get_in(totals, "withdraw_amount"), lang)),
        big_figure(t("money.net", lang), fmt_money(net, lang),
                   "pos" if net and net > 0 else "neg" if net else ""),
        big_figure(t("money.trades", lang), fmt_money(trade_amount(snapshot), lang)),
    ]


def turnover(snapshot: Mapping, lang: str) -> list:
    """The service screen's turnover panel: the rate, what it divides, and today's trades by product."""
    trades = as_mapping(get_in(snapshot, "totals", "trade_amount"))
    return [
        big_figure(t("panel.turnover", lang), fmt_pct(turnover_rate(snapshot), 2), "accent"),
        html.Div(t("hint.turnover", lang), className="big-hint"),
        html.Ul([html.Li([html.Span(t(f"product.{p}", lang)), html.Span(fmt_money(trades.get(p), lang))])
                 for p in PRODUCTS], className="product-list"),
    ]


def turnover_line(snapshot: Mapping, lang: str) -> list:
    """The wall's one-line turnover headline above the wealth preference: rate, trades and AUM."""
    rate = turnover_rate(snapshot)
    return [
        html.Span(t("panel.turnover", lang), className="turnover-label"),
        html.Span(fmt_pct(rate, 2), className="turnover-value",
                  **{"data-value": "" if rate is None else repr(rate)}),
        html.Span(t("turnover.of", lang, trades=short_money(trade_amount(snapshot), lang),
                    aum=short_money(aum_now(snapshot).get("total"), lang)), className="turnover-hint"),
    ]
