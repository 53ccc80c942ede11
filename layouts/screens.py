"""The sub-screens (业务分屏): acquisition, funnel, funding & assets, service, alerts.

Each screen is a list of widgets placed in a grid; a widget is a named pure function of the live snapshot
(a figure or HTML children). One callback serves every sub-screen: its outputs are pattern-matched ids
(`{"type": "ecc-fig" | "ecc-html", "name": …}`), so it fills whichever widgets the current screen holds,
reading the snapshot once per tick, like the wall.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime

from dash import ALL, Dash, Input, Output, State, html, no_update

from ecc.contract.catalogue import channel_label
from ecc.timeutil import TZ
from layouts import ids
from layouts.alerts_view import alert_list
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
from layouts.compare import kpi_compare
from layouts.figures import (
    asset_figure,
    channel_figure,
    channel_rows,
    funnel_figure,
    reject_figure,
    wealth_figure,
)
from layouts.formatting import (
    as_float,
    as_mapping,
    effective_freshness,
    fmt_day,
    fmt_int,
    fmt_pct,
    get_in,
)
from layouts.i18n import normalize_lang, t
from layouts.kpi_cards import KPI_PROPS, kpi_card, kpi_parts
from layouts.memo import ViewMemo, digest, wire
from layouts.money_views import money_flows, turnover
from layouts.provinces import province_figure, tier_figure
from layouts.trend import trend_figure
from layouts.wall import funnel_steps
from layouts.watermarks import source_times

logger = logging.getLogger(__name__)

HEADER = HeaderIds("screen")
FIG, HTML = "ecc-fig", "ecc-html"
KPI_VALUE, KPI_HINT, KPI_COMPARE = "ecc-kpi", "ecc-kpi-hint", "ecc-kpi-compare"


def leaderboard(snapshot: Mapping, lang: str) -> html.Table:
    """Channels ranked by leads, with dial rate and open rate (the drill-down will make it sortable)."""
    by_channel = as_mapping(get_in(snapshot, "by_channel"))
    head = html.Tr([html.Th(t(f"col.{key}", lang)) for key in
                    ("channel", "leads", "dial_rate", "opened", "open_rate")])
    rows = []
    for rank, (code, leads, opened, open_rate) in enumerate(channel_rows(snapshot), start=1):
        dial = as_float(get_in(by_channel, code, "dial_rate"))
        rows.append(html.Tr([
            html.Td([html.Span(str(rank), className="rank"), channel_label(code, lang)], className="name"),
            html.Td(fmt_int(leads)), html.Td(fmt_pct(dial)), html.Td(fmt_int(opened)),
            html.Td(fmt_pct(open_rate)),
        ]))
    if not rows:
        rows = [html.Tr(html.Td(t("fig.empty", lang), colSpan=5, className="empty"))]
    return html.Table([html.Thead(head), html.Tbody(rows)], className="leaderboard")


@dataclass(frozen=True)
class Widget:
    kind: str  # FIG or HTML
    render: Callable[[Mapping, str], object]
    title_key: str | None = None  # a panel around it; None for a bare KPI card
    source: str = "live"  # what it draws from, for its panel's watermark (layouts/watermarks.py)


WIDGETS: dict[str, Widget] = {
    "channels": Widget(FIG, channel_figure, "panel.channels"),
    "leaderboard": Widget(HTML, leaderboard, "panel.leaderboard"),
    "trend": Widget(FIG, trend_figure, "panel.trend"),
    "funnel": Widget(FIG, funnel_figure, "panel.funnel"),
    "funnel-steps": Widget(HTML, funnel_steps),
    "rejects": Widget(FIG, reject_figure, "panel.rejects"),
    # A quarter of the screen's width: the donut's legend goes under it (beside it, it met the labels).
    "assets": Widget(FIG, lambda snap, lang: asset_figure(snap, lang, legend_below=True), "panel.assets",
                     "context"),
    "money": Widget(HTML, money_flows, "panel.money"),
    "wealth": Widget(FIG, wealth_figure, "panel.wealth"),
    "turnover": Widget(HTML, turnover, "panel.turnover"),
    "provinces": Widget(FIG, province_figure, "panel.provinces", "context"),
    "tiers": Widget(FIG, tier_figure, "panel.tiers", "context"),
    "alerts": Widget(HTML, alert_list, "panel.alerts", "alerts"),
}

# Each screen: KPI cards on top (wall.KPI_KEYS), then panels (a widget name, or several in one panel).
SCREEN_LAYOUTS: dict[str, tuple[tuple[str, ...], tuple[object, ...]]] = {
    "acquisition": (("leads", "dial_rate", "opened", "open_rate"), ("channels", "leaderboard", "trend")),
    "funnel": (("leads", "opened", "open_rate"), (("funnel", "funnel-steps"), "rejects", "channels")),
    "assets": (("first_deposits", "deposit_amount", "net_inflow"), ("assets", "tiers", "provinces", "money")),
    "service": ((), ("turnover", "wealth")),
    "alerts": ((), ("alerts",)),
}


def _widget(name: str, lang: str) -> object:
    widget = WIDGETS[name]
    wid = {"type": widget.kind, "name": name}
    if widget.kind == FIG:
        chart = graph(wid, lang)
        chart.className = f"graph widget-fig-{name}"
        return chart
    tag = html.Ol if name == "funnel-steps" else html.Div
    return tag(widget.render({}, lang), id=wid, className=f"widget widget-{name}")


def layout(screen: str, lang: str = "zh", refresh_ms: int = 1000, pathname: str = "/",
           now: datetime | None = None, search: str | None = None, base: str = "/") -> html.Div:
    lang = normalize_lang(lang)
    moment = (now or datetime.now(TZ)).astimezone(TZ)
    kpi_names, panels = SCREEN_LAYOUTS[screen]
    kpis = [html.Div(kpi_card(key, {}, lang, value_id={"type": KPI_VALUE, "name": key},
                              hint_id={"type": KPI_HINT, "name": key},
                              compare_id={"type": KPI_COMPARE, "name": key}, prefix=HEADER.prefix),
                     className=f"kpi-card kpi-card-{key}")
            for key in kpi_names]
    body = []
    for entry in panels:
        names = entry if isinstance(entry, tuple) else (entry,)
        first = WIDGETS[names[0]]
        body.append(panel(names[0], first.title_key or "", lang, *(_widget(name, lang) for name in names),
                          source=first.source, prefix=HEADER.prefix))
    return html.Div(className=f"ecc-screen sub-screen screen-{screen} lang-{lang}", children=[
        *stores(HEADER, lang, refresh_ms),
        header(HEADER, lang, screen, pathname, search, moment),
        html.Section(kpis, className=f"kpi-row kpi-row-{len(kpis)}") if kpis else None,
        html.Main(body, className=f"screen-grid screen-grid-{len(body)}"),
        footer(lang, screen, search, base),
    ])


def render(snapshot: Mapping | None, lang: str, now: datetime, fig_ids: list, html_ids: list,
           kpi_ids: list | None = None, memo: ViewMemo | None = None) -> tuple:
    """(day, rates, session children, session class, badge children, badge class, tick, source times,
    figures, htmls,
    then per KPI part (value children, data-value, className, style, hint, comparison) one list over
    `kpi_ids`)."""
    snap = snapshot if isinstance(snapshot, Mapping) else {}
    kpi_ids = kpi_ids or []
    session = session_badge(now, lang)
    keep = ([no_update] * len(fig_ids), [no_update] * len(html_ids),
            *([no_update] * len(kpi_ids) for _ in range(len(KPI_PROPS) + 2)))
    if snap.get("error"):
        down = freshness_badge(None, lang, source_down=True)
        return (no_update, no_update, *session, *down, tick(now), no_update, *keep)
    if get_in(snap, "live_state", "state") == "rebuilding":
        return (no_update, no_update, *session, *rebuilding_badge(lang), tick(now), no_update, *keep)
    key = digest(snap) if memo is not None else None

    def view(kind: str, name: str, build: Callable[[], object]) -> object:
        # Served (with a memo): kept in the JSON form Dash sends (layouts/memo.py: wire).
        return build() if memo is None else memo.get((kind, name, lang, key), lambda: wire(build()))

    parts = [view("kpi", i["name"], lambda i=i: (*kpi_parts(i["name"], snap, lang),
                                                   kpi_compare(i["name"], snap, lang))) for i in kpi_ids]
    header = (
        fmt_day(get_in(snap, "day") or now.astimezone(TZ).date().isoformat(), lang),
        rates_line(snap, lang),
        *session,
        *freshness_badge(effective_freshness(snap, now), lang),
        tick(now),
        source_times(snap, now),
    )
    return (
        *(header if memo is None else wire(header)),
        [view("widget", i["name"], lambda i=i: WIDGETS[i["name"]].render(snap, lang)) for i in fig_ids],
        [view("widget", i["name"], lambda i=i: WIDGETS[i["name"]].render(snap, lang)) for i in html_ids],
        *([part[j] for part in parts] for j in range(len(KPI_PROPS) + 2)),
    )

def register_callbacks(app: Dash, snapshot_provider: Callable[[], Mapping | None],
                       clock: Callable[[], datetime] | None = None) -> None:
    now = clock or (lambda: datetime.now(TZ))
    memo = ViewMemo()

    @app.callback(
        Output(HEADER.day, "children"), Output(HEADER.rates, "children"),
        Output(HEADER.session, "children"), Output(HEADER.session, "className"),
        Output(HEADER.freshness, "children"), Output(HEADER.freshness, "className"),
        Output(HEADER.tick, "data"),
        Output(HEADER.source_times, "data"),
        Output({"type": FIG, "name": ALL}, "figure"),
        Output({"type": HTML, "name": ALL}, "children"),
        *(Output({"type": KPI_VALUE, "name": ALL}, prop) for prop in KPI_PROPS),
        Output({"type": KPI_HINT, "name": ALL}, "children"),
        Output({"type": KPI_COMPARE, "name": ALL}, "children"),
        Input(HEADER.interval, "n_intervals"),
        Input(ids.LANG_STORE, "data"),
        State({"type": FIG, "name": ALL}, "id"),
        State({"type": HTML, "name": ALL}, "id"),
        State({"type": KPI_VALUE, "name": ALL}, "id"),
    )
    def refresh_screen(_n: int | None, lang_data: str | None, fig_ids: list, html_ids: list,
                       kpi_ids: list) -> tuple:
        lang = normalize_lang(lang_data)
        try:
            snapshot = snapshot_provider()
        except Exception:  # the provider is pluggable (Redis, tests): the screen must outlive a blip
            logger.exception("snapshot provider failed; the screen keeps its last numbers")
            snapshot = {"error": "snapshot provider failed"}
        return render(snapshot, lang, now(), fig_ids or [], html_ids or [], kpi_ids or [], memo)

    register_clientside(app, HEADER)

