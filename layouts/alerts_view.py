"""Pure views of the alerts on the wall: the red banner of what is firing, the ticker of today's other
alerts, and the alert list of the wide wall and the alerts sub-screen.

Alerts arrive in the snapshot's context (layouts/context.py) in the shape of `GET /api/v1/alerts`;
`None` there means the alerts module is not connected yet, which the screen says instead of pretending.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from dash import html

from ecc.contract.catalogue import channel_label
from ecc.timeutil import TZ
from layouts.compare import context
from layouts.formatting import as_float, fmt_int, fmt_pct, get_in
from layouts.i18n import t

RATIO_KINDS = ("step_conversion_drop", "dial_rate_low", "reject_rate_spike")
TICKER_MAX = 8
LIST_MAX = 30


def alerts_of(snapshot: Mapping) -> list[Mapping] | None:
    value = get_in(context(snapshot), "alerts")
    if value is None:
        return None
    return [a for a in value if isinstance(a, Mapping)] if isinstance(value, list) else []


def _number(kind: str, value: object) -> str:
    number = as_float(value)
    if number is None:
        return "—"
    return fmt_pct(number) if kind in RATIO_KINDS else fmt_int(round(number))


def _clock(value: object) -> str:
    try:
        return datetime.fromisoformat(str(value)).astimezone(TZ).strftime("%H:%M")
    except ValueError:
        return "—"


def alert_text(alert: Mapping, lang: str) -> str:
    """'断点转化率下降 · 抖音 · 步骤 5 · 观测 12.0% · 基线 30.0%'."""
    kind = str(alert.get("kind") or "")
    parts = [t(f"alert.kind.{kind}", lang)]
    if alert.get("channel"):
        parts.append(channel_label(str(alert["channel"]), lang))
    if alert.get("step") is not None:
        parts.append(t("alert.step", lang, step=alert["step"]))
    # a no_data alert's numbers are the age of the newest event and the rule's limit, in seconds
    key = "alert.no_data" if kind == "no_data" else "alert.observed"
    parts.append(t(key, lang, observed=_number(kind, alert.get("observed")),
                   baseline=_number(kind, alert.get("baseline"))))
    return " · ".join(parts)


def banner(snapshot: Mapping, lang: str) -> tuple[list, str]:
    """(children, className) of the strip under the KPI cards: firing alerts in red, otherwise a ticker of
    today's other alerts, otherwise the honest "no alerts"."""
    alerts = alerts_of(snapshot)
    if alerts is None:
        return [html.Span(f"{t('alerts.ticker_none', lang)} · {t('alerts.unavailable', lang)}",
                          className="ticker-item")], "alert-strip strip-quiet"
    firing = [a for a in alerts if a.get("state") == "firing" and not a.get("silenced")]
    if firing:
        items = [html.Span([html.B(t("alerts.firing", lang), className="alert-tag"), alert_text(a, lang),
                            html.Span(_clock(a.get("started_at")), className="alert-time")],
                           className="ticker-item", **{"data-alert-id": str(a.get("id", ""))})
                 for a in firing[:TICKER_MAX]]
        return [html.Div(items, className="ticker-list", style={"--n": str(len(items))})], \
            "alert-strip strip-firing"
    if not alerts:
        return [html.Span(t("alerts.ticker_none", lang), className="ticker-item")], "alert-strip strip-quiet"
    items = [html.Span([html.B(t(f"alert.state.{a.get('state')}", lang), className="alert-tag"),
                        alert_text(a, lang), html.Span(_clock(a.get("started_at")), className="alert-time")],
                       className="ticker-item", **{"data-alert-id": str(a.get("id", ""))})
             for a in alerts[:TICKER_MAX]]
    return [html.Div(items, className="ticker-list", style={"--n": str(len(items))})], \
        "alert-strip strip-recent"


def _text_or_link(alert: Mapping, lang: str) -> html.Component:
    """The alert's text; a link to its drill-down (the API's `link`, filtered to its channel, step and
    time) when it has one."""
    text = alert_text(alert, lang)
    link = alert.get("link")
    if isinstance(link, str) and link.startswith("/"):
        return html.A(text, href=link, className="alert-text", title=text)
    return html.Span(text, className="alert-text", title=text)


def alert_list(snapshot: Mapping, lang: str) -> list:
    """The alerts panel: one row per alert of today, newest first; the empty state when there are none."""
    alerts = alerts_of(snapshot)
    if not alerts:
        text = t("alerts.none", lang) if alerts is not None else \
            f"{t('alerts.none', lang)} · {t('alerts.unavailable', lang)}"
        return [html.Div(className="alerts-empty", children=[
            html.Div("✓", className="alerts-empty-mark"), html.Div(text, className="alerts-empty-text")])]
    rows = []
    for alert in alerts[:LIST_MAX]:
        state = str(alert.get("state") or "")
        notes = []
        if alert.get("acked_by"):
            notes.append(t("alert.acked", lang, by=alert["acked_by"]))
        if alert.get("silenced"):
            notes.append(t("alert.silenced", lang))
        rows.append(html.Li(className=f"alert-row alert-{state}", children=[
            html.Span(t(f"alert.state.{state}", lang), className="alert-state"),
            html.Span(_clock(alert.get("started_at")), className="alert-time"),
            _text_or_link(alert, lang),
            html.Span(" · ".join(notes), className="alert-notes"),
        ], **{"data-alert-id": str(alert.get("id", ""))}))
    return [html.Ol(rows, className="alert-list")]
