"""The wall screen (作战大屏): layout, pure view functions and its one refresh callback.

The page only reads: one `dcc.Interval` drives one callback that calls the snapshot provider (Redis in
production) once and redraws everything from that snapshot. The clock is a clientside callback.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from datetime import datetime

from dash import Dash, Input, Output, State, dcc, html, no_update

from ecc.contract.catalogue import STEPS, step_label
from ecc.timeutil import TZ
from layouts import ids
from layouts.alerts_view import alert_list, banner
from layouts.chrome import (
    HeaderIds,
    footer,
    freshness_badge,
    graph,
    header,
    panel,
    rates_line,
    rebuilding_badge,
    register_clientside,
    session_badge,
    stores,
    tick,
)
from layouts.compare import breakpoints, kpi_compare, marked
from layouts.figures import (
    asset_figure,
    channel_figure,
    funnel_figure,
    funnel_reach,
    wealth_figure,
)
from layouts.formatting import (
    as_int,
    effective_freshness,
    fmt_day,
    fmt_int,
    get_in,
)
from layouts.i18n import normalize_lang, short_step_label, t
from layouts.kpi_cards import (
    KPI_PROPS,
    kpi_card,
    kpi_card_id,
    kpi_compare_id,
    kpi_hint_id,
    kpi_id,
    kpi_parts,
)
from layouts.memo import ViewMemo, digest, wire
from layouts.money_views import turnover_line
from layouts.provinces import province_figure, tier_figure
from layouts.trend import trend_figure, trend_update
from layouts.watermarks import source_times

logger = logging.getLogger(__name__)

SnapshotProvider = Callable[[], Mapping | None]

# ---- component ids ---------------------------------------------------------------------------------
KPI_KEYS = ("leads", "dial_rate", "opened", "open_rate", "first_deposits", "deposit_amount", "net_inflow")
HEADER = HeaderIds("wall")
ID_INTERVAL = HEADER.interval
ID_CLOCK_TICK = HEADER.clock_tick
ID_CLOCK = HEADER.clock
ID_DAY = HEADER.day
ID_SESSION = HEADER.session
ID_FRESHNESS = HEADER.freshness
ID_RATES = HEADER.rates
ID_TICK = HEADER.tick
ID_STALE = HEADER.stale
ID_STALE_CFG = HEADER.stale_cfg
ID_FUNNEL_GRAPH = "wall-funnel-graph"
ID_FUNNEL_STEPS = "wall-funnel-steps"
ID_CHANNEL_GRAPH = "wall-channel-graph"
ID_TREND_GRAPH = "wall-trend-graph"
ID_ASSET_GRAPH = "wall-asset-graph"
ID_WEALTH_GRAPH = "wall-wealth-graph"
ID_PROVINCE_GRAPH = "wall-province-graph"
ID_TIER_GRAPH = "wall-tier-graph"
ID_TURNOVER = "wall-turnover"
ID_TREND_STATE = "wall-trend-state"  # what the browser's trend holds (layouts/trend.py)
ID_TREND_DELTA = "wall-trend-delta"  # the trend's new points, applied by the browser (assets/trend.js)
ID_DRAWN = "wall-drawn"  # which version of each costly view the browser shows (see `render`)
ID_ALERT_STRIP = "wall-alert-strip"
ID_ALERT_LIST = "wall-alert-list"


def reach_id(step: int) -> str:
    """The element holding reach[step] of the funnel (text, plus the integer in `data-value`)."""
    return f"reach-{step}"


def lang_link_id(lang: str) -> str:
    return f"{HEADER.prefix}-lang-{lang}"


# ---- pure view functions ---------------------------------------------------------------------------

def funnel_steps(snapshot: Mapping, lang: str) -> list:
    """The funnel as an HTML list: one cell per step, reach in `reach-<k>`, under the chart's bars."""
    reach = funnel_reach(snapshot)
    marks = marked(breakpoints(snapshot))
    items = []
    for k, value in zip(STEPS, reach, strict=True):
        rejects = as_int(get_in(snapshot, "totals", "rejects", str(k)))
        weak = " weak" if k in marks or (k - 1) in marks else ""
        items.append(html.Li(className=f"funnel-step{weak}", children=[
            html.Div(f"{k:02d}", className="step-no"),
            html.Div(short_step_label(k, lang), className="step-name", title=step_label(k, lang)),
            html.Div(fmt_int(value), id=reach_id(k), className="step-reach",
                     **{"data-value": "" if value is None else str(value)}),
            html.Div(t("funnel.rejects", lang, count=fmt_int(rejects)) if rejects else "\u00a0",
                     className="step-rejects"),
        ]))
    return items


def source_down(lang: str, now: datetime | None = None) -> tuple:
    """The refresh outputs when the snapshot cannot be read: the last numbers stay, the badge turns red.

    The tick still moves: the server answered, and says itself that its source is down.
    """
    moment = now or datetime.now(TZ)
    return (*(no_update for _ in _OUTPUTS[:-5]), *session_badge(moment, lang),
            *freshness_badge(None, lang, source_down=True), tick(moment))


def rebuilding(lang: str, now: datetime | None = None) -> tuple:
    """While the live store is rebuilt from ClickHouse its counts are partial: the numbers are not
    redrawn (the last right ones stay, or "—" on a fresh page) and the badge says why."""
    moment = now or datetime.now(TZ)
    return (*(no_update for _ in _OUTPUTS[:-5]), *session_badge(moment, lang), *rebuilding_badge(lang),
            tick(moment))


# What each costly view reads of the snapshot. The live numbers change every second, but the funnel only
# when a step moves, the donut or the province ranking rarely: each is rebuilt only when its own inputs
# changed (building a Plotly figure is most of a refresh's cost: docs/wall.md).
_DAY = (("day",), ("context", "cut"))
_INPUTS = {
    "funnel": (("totals", "reach"), ("totals", "rejects"), ("ratios", "step_conversion"),
               ("context", "baseline"), *_DAY),
    "channels": (("by_channel",),),
    "assets": (("context", "assets", "by_class"), ("context", "assets", "total"), *_DAY),
    "wealth": (("ratios", "wealth_preference"), ("totals", "trade_amount"), ("context", "assets", "total"),
               *_DAY),
    "provinces": (("context", "assets"), *_DAY),
    "alerts": (("context", "alerts"), *_DAY),
}


def part_keys(snap: Mapping, lang: str) -> dict[str, str]:
    """The version of each costly view: a digest of exactly the snapshot values it is drawn from."""
    return {name: digest({"lang": lang, **{str(i): get_in(snap, *path) for i, path in enumerate(paths)}})
            for name, paths in _INPUTS.items()}


def _body(snap: Mapping, lang: str, memo: ViewMemo | None = None) -> tuple:
    """The outputs that depend on the snapshot's numbers only (memoized per snapshot: layouts/memo.py,
    and each costly view per its own inputs). The trend is not among them: it is updated per browser
    (layouts/trend.py). With a memo every value is in the JSON form Dash sends (`wire`)."""
    keys = part_keys(snap, lang)

    def part(name: str, build: Callable[[], object]) -> object:
        return build() if memo is None else memo.get(("wall-part", name, keys[name]), lambda: wire(build()))
    cards = tuple(piece for key in KPI_KEYS
                  for piece in (*kpi_parts(key, snap, lang), kpi_compare(key, snap, lang)))
    funnel = part("funnel", lambda: (funnel_steps(snap, lang), funnel_figure(snap, lang)))
    return (
        *(cards if memo is None else wire(cards)),
        *funnel,
        part("channels", lambda: channel_figure(snap, lang)),
        part("assets", lambda: asset_figure(snap, lang)),
        *part("wealth", lambda: (wealth_figure(snap, lang), turnover_line(snap, lang))),
        *part("provinces", lambda: (province_figure(snap, lang), tier_figure(snap, lang))),
        *part("alerts", lambda: (*banner(snap, lang), alert_list(snap, lang))),
    )


def unchanged_views(body: tuple, keys: Mapping[str, str], drawn: Mapping | None) -> tuple:
    """`body` with every view the browser already shows in this version replaced by no_update: most
    seconds move a few numbers, and re-sending (and re-drawing) five unchanged Plotly figures cost two
    thirds of a refresh's CPU and most of its bytes."""
    if not isinstance(drawn, Mapping):
        return body
    out = list(body)
    for name, outputs in _VIEW_OUTPUTS.items():
        if drawn.get(name) == keys[name]:
            for output in outputs:
                out[_OUTPUTS.index(output)] = no_update
    return tuple(out)


def render(snapshot: Mapping | None, lang: str, now: datetime, memo: ViewMemo | None = None,
           trend_state: Mapping | None = None, drawn: Mapping | None = None) -> tuple:
    """Every output of the refresh callback, in `_OUTPUTS` order, from one snapshot.

    A snapshot with an "error" key (the provider's way to say the live store is unreachable) keeps the
    last numbers on the wall and turns the badge red. With a `memo`, the cards and figures of a snapshot
    already drawn for another screen are reused. `drawn` is what this browser shows (the versions this
    function returned last time): views it already has are not sent again.
    """
    snap = snapshot if isinstance(snapshot, Mapping) else {}
    if snap.get("error"):
        return source_down(lang, now)
    if get_in(snap, "live_state", "state") == "rebuilding":
        return rebuilding(lang, now)
    if memo is None:
        trend = _sendable(trend_update(snap, lang, trend_state, lambda: trend_figure(snap, lang)))
        keys = part_keys(snap, lang)
        return (*unchanged_views(_body(snap, lang), keys, drawn), *trend, keys, *_header(snap, lang, now))
    # The served path: every screen of a second shares these (one build each, in the JSON form Dash
    # sends), and only the header is made per request.
    key = digest(snap)
    keys = memo.get(("wall-keys", lang, key), lambda: part_keys(snap, lang))
    body = memo.get(("wall", lang, key), lambda: _body(snap, lang, memo))

    def update() -> tuple:
        full = lambda: memo.get(("wall-trend", lang, key), lambda: wire(trend_figure(snap, lang)))  # noqa: E731
        return _sendable(trend_update(snap, lang, trend_state, full))
    trend = memo.get(("wall-trend-update", lang, key, state_key(trend_state)), update)
    return (*unchanged_views(body, keys, drawn), *trend, keys, *wire(_header(snap, lang, now)))


def _sendable(update: tuple) -> tuple:
    """trend_update's (figure, delta, state) as the three outputs: what is not sent is no_update."""
    figure, delta, state = update
    return (no_update if figure is None else figure, no_update if delta is None else delta, state)


def state_key(state: object) -> str:
    """What a browser's trend store holds, as a memo key (it is small: counts and hashes per line)."""
    return json.dumps(state, sort_keys=True, default=str, separators=(",", ":"))


def _header(snap: Mapping, lang: str, now: datetime) -> tuple:
    """The outputs read afresh for every request: source times, day, rates, badges, tick."""
    return (
        source_times(snap, now),
        fmt_day(get_in(snap, "day") or now.astimezone(TZ).date().isoformat(), lang),
        rates_line(snap, lang),
        *session_badge(now, lang),
        *freshness_badge(effective_freshness(snap, now), lang),
        tick(now),
    )


_OUTPUTS = (
    *(output for key in KPI_KEYS
      for output in (*((kpi_id(key), prop) for prop in KPI_PROPS), (kpi_hint_id(key), "children"),
                     (kpi_compare_id(key), "children"))),
    (ID_FUNNEL_STEPS, "children"),
    (ID_FUNNEL_GRAPH, "figure"),
    (ID_CHANNEL_GRAPH, "figure"),
    (ID_ASSET_GRAPH, "figure"),
    (ID_WEALTH_GRAPH, "figure"),
    (ID_TURNOVER, "children"),
    (ID_PROVINCE_GRAPH, "figure"),
    (ID_TIER_GRAPH, "figure"),
    (ID_ALERT_STRIP, "children"),
    (ID_ALERT_STRIP, "className"),
    (ID_ALERT_LIST, "children"),
    (ID_TREND_GRAPH, "figure"),
    (ID_TREND_DELTA, "data"),
    (ID_TREND_STATE, "data"),
    (ID_DRAWN, "data"),
    (HEADER.source_times, "data"),
    (ID_DAY, "children"),
    (ID_RATES, "children"),
    (ID_SESSION, "children"),  # the last five move even when the snapshot cannot be read
    (ID_SESSION, "className"),
    (ID_FRESHNESS, "children"),
    (ID_FRESHNESS, "className"),
    (ID_TICK, "data"),
)


# The outputs each costly view fills (the names of _INPUTS).
_VIEW_OUTPUTS = {
    "funnel": ((ID_FUNNEL_STEPS, "children"), (ID_FUNNEL_GRAPH, "figure")),
    "channels": ((ID_CHANNEL_GRAPH, "figure"),),
    "assets": ((ID_ASSET_GRAPH, "figure"),),
    "wealth": ((ID_WEALTH_GRAPH, "figure"), (ID_TURNOVER, "children")),
    "provinces": ((ID_PROVINCE_GRAPH, "figure"), (ID_TIER_GRAPH, "figure")),
    "alerts": ((ID_ALERT_STRIP, "children"), (ID_ALERT_STRIP, "className"), (ID_ALERT_LIST, "children")),
}


# ---- layout ----------------------------------------------------------------------------------------

def alerts_empty(lang: str) -> html.Div:
    """The alert list before the first refresh fills it."""
    return html.Div(className="alerts-empty", children=[
        html.Div("✓", className="alerts-empty-mark"),
        html.Div(t("alerts.none", lang), className="alerts-empty-text"),
    ])


def layout(lang: str = "zh", refresh_ms: int = 1000, pathname: str = "/",
           now: datetime | None = None, search: str | None = None, base: str = "/",
           snapshot: Mapping | None = None) -> html.Div:
    """The wall page in `lang`; numbers show "—" until the first refresh fills them, or the KPI cards of
    `snapshot` when the router passes the live one: the numbers then come with the page itself, before
    the first refresh and before the charts' code (plotly.js, 1.4 MB) is fetched and parsed for it.

    On a wide canvas (32:9, assets/fit.js adds `ecc-wide`) the grid gets four columns and the alerts panel.
    """
    lang = normalize_lang(lang)
    moment = (now or datetime.now(TZ)).astimezone(TZ)
    numbers = snapshot if _drawable(snapshot) else {}
    kpis = html.Section(className="kpi-row", children=[
        html.Div(kpi_card(key, numbers, lang), id=kpi_card_id(key), className=f"kpi-card kpi-card-{key}")
        for key in KPI_KEYS
    ])
    grid = html.Main(className="wall-grid", children=[
        panel("funnel", "panel.funnel", lang,
              graph(ID_FUNNEL_GRAPH, lang),
              html.Ol(funnel_steps({}, lang), id=ID_FUNNEL_STEPS, className="funnel-steps"),
              note_key="panel.funnel.note"),
        panel("channels", "panel.channels", lang, graph(ID_CHANNEL_GRAPH, lang)),
        panel("trend", "panel.trend", lang, graph(ID_TREND_GRAPH, lang),
              dcc.Store(id=ID_TREND_STATE, data=None), dcc.Store(id=ID_TREND_DELTA, data=None),
              dcc.Store(id=ID_DRAWN, data=None)),
        panel("assets", "panel.assets", lang, graph(ID_ASSET_GRAPH, lang), source="context"),
        panel("provinces", "panel.aum_split", lang,
              html.Div([graph(ID_PROVINCE_GRAPH, lang), graph(ID_TIER_GRAPH, lang)], className="graph-pair"),
              source="context"),
        panel("wealth", "panel.service", lang,
              html.Div(turnover_line({}, lang), id=ID_TURNOVER, className="turnover-line"),
              graph(ID_WEALTH_GRAPH, lang)),
        panel("alerts", "panel.alerts", lang, html.Div(alerts_empty(lang), id=ID_ALERT_LIST,
                                                       className="alert-list-box"), source="alerts"),
    ])
    strip = html.Section(id=ID_ALERT_STRIP, className="alert-strip strip-quiet",
                         children=html.Span(t("alerts.ticker_none", lang), className="ticker-item"))
    return html.Div(className=f"wall ecc-screen screen-wall lang-{lang}", children=[
        *stores(HEADER, lang, refresh_ms),
        header(HEADER, lang, "wall", pathname or "/", search, moment), kpis, strip, grid,
        footer(lang, "wall", search, base),
    ])


def _drawable(snapshot: Mapping | None) -> bool:
    """A snapshot whose numbers may be shown (not an error, not a live store being rebuilt)."""
    return isinstance(snapshot, Mapping) and not snapshot.get("error") \
        and get_in(snapshot, "live_state", "state") != "rebuilding"


# ---- callbacks -------------------------------------------------------------------------------------

def register_callbacks(app: Dash, snapshot_provider: SnapshotProvider,
                       clock: Callable[[], datetime] | None = None) -> None:
    """The one refresh callback (reads the snapshot once per tick), the clock and the watermark."""
    now = clock or (lambda: datetime.now(TZ))
    memo = ViewMemo()

    @app.callback(
        [Output(component, prop) for component, prop in _OUTPUTS],
        Input(ID_INTERVAL, "n_intervals"),
        Input(ids.LANG_STORE, "data"),
        State(ID_TREND_STATE, "data"),
        State(ID_DRAWN, "data"),
    )
    def refresh(_n_intervals: int | None, lang_data: str | None, trend_state: dict | None,
                drawn: dict | None) -> tuple:
        lang = normalize_lang(lang_data)
        try:
            snapshot = snapshot_provider()
        except Exception:  # the provider is pluggable (Redis, tests): the wall must outlive a blip
            logger.exception("snapshot provider failed; the wall keeps its last numbers")
            return source_down(lang, now())
        return render(snapshot, lang, now(), memo, trend_state, drawn)

    # The trend's delta applied in the browser; a delta that does not fit the lines shown clears the
    # trend's state, so the next refresh sends the whole figure (layouts/trend.py).
    app.clientside_callback(
        "function(delta, figure) { return window.eccTrendApply(delta, figure); }",
        Output(ID_TREND_GRAPH, "figure", allow_duplicate=True),
        Output(ID_TREND_STATE, "data", allow_duplicate=True),
        Input(ID_TREND_DELTA, "data"), State(ID_TREND_GRAPH, "figure"), prevent_initial_call=True)
    register_clientside(app, HEADER)
