"""The wall screen (作战大屏): layout, pure view functions and its one refresh callback.

The page only reads: one `dcc.Interval` drives one callback that calls the snapshot provider (Redis in
production) once and redraws everything from that snapshot. The clock is a clientside callback.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from datetime import datetime

from dash import Dash, Input, Output, State, dcc, html, no_update

from ecc.catalogue import STEPS, step_label
from ecc.timeutil import TZ
from layouts import ids
from layouts.figures import (
    asset_figure,
    channel_figure,
    empty_figure,
    funnel_conversions,
    funnel_figure,
    funnel_reach,
    trend_figure,
    weakest_breakpoint,
    wealth_figure,
)
from layouts.formatting import (
    as_decimal,
    as_float,
    as_int,
    effective_freshness,
    fmt_day,
    fmt_freshness,
    fmt_int,
    fmt_money,
    fmt_pct,
    fmt_rate,
    freshness_level,
    get_in,
    money_parts,
    share_of,
)
from layouts.i18n import LANGS, normalize_lang, t

logger = logging.getLogger(__name__)

SnapshotProvider = Callable[[], Mapping | None]

# ---- component ids ---------------------------------------------------------------------------------
KPI_KEYS = ("leads", "dial_rate", "opened", "open_rate", "first_deposits", "deposit_amount", "net_inflow")
ID_INTERVAL = "wall-interval"
ID_CLOCK_TICK = "wall-clock-tick"
ID_CLOCK = "wall-clock"
ID_DAY = "wall-day"
ID_FRESHNESS = "wall-freshness"
ID_RATES = "wall-rates"
ID_FUNNEL_GRAPH = "wall-funnel-graph"
ID_FUNNEL_STEPS = "wall-funnel-steps"
ID_CHANNEL_GRAPH = "wall-channel-graph"
ID_TREND_GRAPH = "wall-trend-graph"
ID_ASSET_GRAPH = "wall-asset-graph"
ID_WEALTH_GRAPH = "wall-wealth-graph"
ID_TICK = "wall-tick"  # dcc.Store: the server's time of the last successful refresh (ms)
ID_STALE = "wall-stale"  # the browser's own stale watermark (assets/watermark.js)
ID_STALE_CFG = "wall-stale-cfg"  # dcc.Store: after how long without a refresh, and the text to show
# The browser calls the data stale after this many refresh intervals without an answer (and 5 s at least).
STALE_AFTER_REFRESHES = 3
STALE_MIN_S = 5.0


def kpi_id(key: str) -> str:
    """The element holding a KPI's value (text, plus the raw number in `data-value`)."""
    return f"kpi-{key}"


def kpi_card_id(key: str) -> str:
    return f"kpi-card-{key}"


def reach_id(step: int) -> str:
    """The element holding reach[step] of the funnel (text, plus the integer in `data-value`)."""
    return f"reach-{step}"


def lang_link_id(lang: str) -> str:
    return f"wall-lang-{lang}"


_COUNTS = ("leads", "opened", "first_deposits")
_RATIOS = ("dial_rate", "open_rate")
_MONEY = ("deposit_amount", "net_inflow")

_CLOCK_JS = """
function(n) {
    return new Date().toLocaleTimeString('en-GB', {timeZone: 'Asia/Shanghai', hour12: false});
}
"""
# The watermark: runs in the browser every second, with or without the server (assets/watermark.js).
_STALE_JS = ("function(n, tick, cfg) {"
             " return window.eccWatermark(dash_clientside.callback_context, tick, cfg); }")


# ---- pure view functions ---------------------------------------------------------------------------

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


def kpi_card(key: str, snapshot: Mapping, lang: str) -> list:
    """Children of one KPI card: label, value (id `kpi-<key>`), hint.

    The value's character count goes to CSS (`--chars`) which shrinks long numbers to fit the card.
    """
    children, raw, extra = kpi_value(key, snapshot, lang)
    chars = sum(len(part) for part in children if isinstance(part, str)) + (1 if len(children) > 1 else 0)
    return [
        html.Div(t(f"kpi.{key}", lang), className="kpi-label"),
        html.Div(children, id=kpi_id(key), className=f"kpi-value{extra}",
                 style={"--chars": str(max(chars, 5))}, **{"data-value": raw}),
        html.Div(kpi_hint(key, snapshot, lang), className="kpi-hint"),
    ]


def funnel_steps(snapshot: Mapping, lang: str) -> list:
    """The funnel as an HTML list: one cell per step, reach in `reach-<k>`, under the chart's bars."""
    reach = funnel_reach(snapshot)
    weakest = weakest_breakpoint(funnel_conversions(snapshot))
    items = []
    for k, value in zip(STEPS, reach, strict=True):
        rejects = as_int(get_in(snapshot, "totals", "rejects", str(k)))
        weak = " weak" if weakest is not None and k in (weakest, weakest + 1) else ""
        items.append(html.Li(className=f"funnel-step{weak}", children=[
            html.Div(f"{k:02d}", className="step-no"),
            html.Div(step_label(k, lang), className="step-name", title=step_label(k, lang)),
            html.Div(fmt_int(value), id=reach_id(k), className="step-reach",
                     **{"data-value": "" if value is None else str(value)}),
            html.Div(t("funnel.rejects", lang, count=fmt_int(rejects)) if rejects else "\u00a0",
                     className="step-rejects"),
        ]))
    return items


def freshness_badge(seconds: float | None, lang: str, source_down: bool = False) -> tuple[list, str]:
    """(children, className) of the 数据延迟 badge: green < 5 s, amber < 60 s, red beyond or unknown."""
    level = "bad" if source_down else freshness_level(seconds)
    text = t("fresh.down", lang) if source_down else fmt_freshness(seconds, lang)
    return [html.Span(className="fresh-dot"), html.Span(text, className="fresh-text")], f"fresh fresh-{level}"


def rates_line(snapshot: Mapping, lang: str) -> list:
    return [
        html.Span(t("header.ingest", lang, rate=fmt_rate(get_in(snapshot, "ingest_rate")))),
        html.Span(t("header.rejected", lang, rate=fmt_rate(get_in(snapshot, "reject_rate"))),
                  className="rate-rejected"),
    ]


def source_down(lang: str, now: datetime | None = None) -> tuple:
    """The refresh outputs when the snapshot cannot be read: the last numbers stay, the badge turns red.

    The tick still moves: the server answered, and says itself that its source is down.
    """
    badge, badge_class = freshness_badge(None, lang, source_down=True)
    return (*(no_update for _ in _OUTPUTS[:-3]), badge, badge_class, _tick(now))


def rebuilding(lang: str, now: datetime | None = None) -> tuple:
    """While the live store is rebuilt from ClickHouse its counts are partial: the numbers are not
    redrawn (the last right ones stay, or "—" on a fresh page) and the badge says why."""
    children = [html.Span(className="fresh-dot"),
                html.Span(t("fresh.rebuilding", lang), className="fresh-text")]
    return (*(no_update for _ in _OUTPUTS[:-3]), children, "fresh fresh-warn fresh-rebuilding", _tick(now))


def _tick(now: datetime | None) -> int:
    return int((now or datetime.now(TZ)).timestamp() * 1000)


def render(snapshot: Mapping | None, lang: str, now: datetime) -> tuple:
    """Every output of the refresh callback, in `_OUTPUTS` order, from one snapshot.

    A snapshot with an "error" key (the provider's way to say the live store is unreachable) keeps the
    last numbers on the wall and turns the badge red.
    """
    snap = snapshot if isinstance(snapshot, Mapping) else {}
    if snap.get("error"):
        return source_down(lang, now)
    if get_in(snap, "live_state", "state") == "rebuilding":
        return rebuilding(lang, now)
    badge, badge_class = freshness_badge(effective_freshness(snap, now), lang)
    return (
        *(kpi_card(key, snap, lang) for key in KPI_KEYS),
        funnel_steps(snap, lang),
        funnel_figure(snap, lang),
        channel_figure(snap, lang),
        trend_figure(snap, lang),
        asset_figure(snap, lang),
        wealth_figure(snap, lang),
        fmt_day(get_in(snap, "day") or now.astimezone(TZ).date().isoformat(), lang),
        rates_line(snap, lang),
        badge,
        badge_class,
        _tick(now),
    )


_OUTPUTS = (
    *((kpi_card_id(key), "children") for key in KPI_KEYS),
    (ID_FUNNEL_STEPS, "children"),
    (ID_FUNNEL_GRAPH, "figure"),
    (ID_CHANNEL_GRAPH, "figure"),
    (ID_TREND_GRAPH, "figure"),
    (ID_ASSET_GRAPH, "figure"),
    (ID_WEALTH_GRAPH, "figure"),
    (ID_DAY, "children"),
    (ID_RATES, "children"),
    (ID_FRESHNESS, "children"),
    (ID_FRESHNESS, "className"),
    (ID_TICK, "data"),
)


# ---- layout ----------------------------------------------------------------------------------------

def _graph(graph_id: str, lang: str) -> dcc.Graph:
    return dcc.Graph(id=graph_id, figure=empty_figure(lang), responsive=True, className="graph",
                     config={"displayModeBar": False, "displaylogo": False})


def _panel(name: str, title_key: str, lang: str, *body: object, note_key: str | None = None) -> html.Section:
    head = [html.Span(className="panel-mark"), html.H2(t(title_key, lang))]
    if note_key:
        head.append(html.Span(t(note_key, lang), className="panel-note"))
    return html.Section(className=f"panel panel-{name}", children=[
        html.Div(head, className="panel-head"),
        html.Div(list(body), className="panel-body"),
    ])


def _lang_switch(lang: str, pathname: str) -> html.Nav:
    return html.Nav(className="lang-switch", children=[
        dcc.Link(t(f"lang.{code}", lang), href=f"{pathname}?lang={code}", id=lang_link_id(code),
                 className="lang-option active" if code == lang else "lang-option")
        for code in LANGS
    ])


def layout(lang: str = "zh", refresh_ms: int = 1000, pathname: str = "/",
           now: datetime | None = None) -> html.Div:
    """The wall page in `lang`; numbers show "—" until the first refresh fills them."""
    lang = normalize_lang(lang)
    moment = (now or datetime.now(TZ)).astimezone(TZ)
    badge, badge_class = freshness_badge(None, lang)
    header = html.Header(className="wall-header", children=[
        html.Div(className="header-side header-left", children=[
            html.Div(moment.strftime("%H:%M:%S"), id=ID_CLOCK, className="clock"),
            html.Div([html.Div(t("header.clock", lang), className="clock-label"),
                      html.Div(fmt_day(moment.date().isoformat(), lang), id=ID_DAY, className="day")],
                     className="clock-meta"),
        ]),
        html.Div(className="header-title", children=[
            html.H1(t("wall.title", lang)),
            html.Div(t("wall.subtitle", lang), className="subtitle"),
        ]),
        html.Div(className="header-side header-right", children=[
            html.Div(rates_line({}, lang), id=ID_RATES, className="rates"),
            html.Div(badge, id=ID_FRESHNESS, className=badge_class),
            html.Div(id=ID_STALE, className="fresh fresh-bad stale stale-hidden", role="status"),
            _lang_switch(lang, pathname or "/"),
        ]),
    ])
    kpis = html.Section(className="kpi-row", children=[
        html.Div(kpi_card(key, {}, lang), id=kpi_card_id(key), className=f"kpi-card kpi-card-{key}")
        for key in KPI_KEYS
    ])
    grid = html.Main(className="wall-grid", children=[
        _panel("funnel", "panel.funnel", lang,
               _graph(ID_FUNNEL_GRAPH, lang),
               html.Ol(funnel_steps({}, lang), id=ID_FUNNEL_STEPS, className="funnel-steps"),
               note_key="panel.funnel.note"),
        _panel("channels", "panel.channels", lang, _graph(ID_CHANNEL_GRAPH, lang)),
        _panel("trend", "panel.trend", lang, _graph(ID_TREND_GRAPH, lang)),
        _panel("assets", "panel.assets", lang, _graph(ID_ASSET_GRAPH, lang)),
        _panel("wealth", "panel.wealth", lang, _graph(ID_WEALTH_GRAPH, lang)),
    ])
    return html.Div(className=f"wall lang-{lang}", children=[
        dcc.Interval(id=ID_INTERVAL, interval=max(200, int(refresh_ms))),
        dcc.Interval(id=ID_CLOCK_TICK, interval=1000),
        dcc.Store(id=ID_TICK),
        dcc.Store(id=ID_STALE_CFG, data={
            "stale_s": max(STALE_MIN_S, STALE_AFTER_REFRESHES * max(200, int(refresh_ms)) / 1000),
            "text": t("fresh.stale", lang)}),
        header, kpis, grid,
    ])


# ---- callbacks -------------------------------------------------------------------------------------

def register_callbacks(app: Dash, snapshot_provider: SnapshotProvider,
                       clock: Callable[[], datetime] | None = None) -> None:
    """The one refresh callback (reads the snapshot once per tick) and the clientside clock."""
    now = clock or (lambda: datetime.now(TZ))

    @app.callback(
        [Output(component, prop) for component, prop in _OUTPUTS],
        Input(ID_INTERVAL, "n_intervals"),
        Input(ids.LANG_STORE, "data"),
    )
    def refresh(_n_intervals: int | None, lang_data: str | None) -> tuple:
        lang = normalize_lang(lang_data)
        try:
            snapshot = snapshot_provider()
        except Exception:  # the provider is pluggable (Redis, tests): the wall must outlive a blip
            logger.exception("snapshot provider failed; the wall keeps its last numbers")
            return source_down(lang, now())
        return render(snapshot, lang, now())

    app.clientside_callback(_CLOCK_JS, Output(ID_CLOCK, "children"), Input(ID_CLOCK_TICK, "n_intervals"))
    app.clientside_callback(_STALE_JS, Output(ID_STALE, "children"), Output(ID_STALE, "className"),
                            Input(ID_CLOCK_TICK, "n_intervals"), Input(ID_TICK, "data"),
                            State(ID_STALE_CFG, "data"))

