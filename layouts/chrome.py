"""What every screen shares: the header (clock, session, title, freshness, language), titled panels
with their freshness watermark, the screen navigation, the keyboard help and the browser's stale watermark.

A screen's header ids carry its prefix ("wall" for the wall, "screen" for the sub-screens), so that the
wall's refresh callback keeps its own outputs (bench/web_load.py posts them) and the sub-screens share one.
"""

from __future__ import annotations

from datetime import datetime
from urllib.parse import parse_qsl, urlencode

from dash import Dash, Input, Output, State, dcc, html

from ecc.timeutil import TZ
from layouts import watermarks
from layouts.account import account
from layouts.figures import empty_figure
from layouts.formatting import fmt_day, fmt_freshness, fmt_rate, freshness_level, get_in
from layouts.i18n import LANGS, t
from layouts.session import session_at

# Screen names in rotation order, and their paths relative to the app's prefix.
SCREENS = ("wall", "acquisition", "funnel", "assets", "service", "alerts")
SCREEN_PATHS = {name: "" if name == "wall" else f"screen/{name}" for name in SCREENS}
# The browser calls the data stale after this many refresh intervals without an answer (and 5 s at least).
STALE_AFTER_REFRESHES = 3
STALE_MIN_S = 5.0

_CLOCK_JS = """
function(n) {
    return new Date().toLocaleTimeString('en-GB', {timeZone: 'Asia/Shanghai', hour12: false});
}
"""
# The watermark: runs in the browser every second, with or without the server (assets/watermark.js).
_STALE_JS = ("function(n, tick, cfg) {"
             " return window.eccWatermark(dash_clientside.callback_context, tick, cfg); }")


class HeaderIds:
    """The header's component ids of one screen family."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self.interval = f"{prefix}-interval"
        self.clock_tick = f"{prefix}-clock-tick"
        self.clock = f"{prefix}-clock"
        self.day = f"{prefix}-day"
        self.session = f"{prefix}-session"
        self.freshness = f"{prefix}-freshness"
        self.rates = f"{prefix}-rates"
        self.tick = f"{prefix}-tick"  # dcc.Store: the server's time of the last successful refresh (ms)
        self.stale = f"{prefix}-stale"  # the browser's own stale watermark (assets/watermark.js)
        self.stale_cfg = f"{prefix}-stale-cfg"
        self.source_times = f"{prefix}-source-times"  # dcc.Store: per source, its newest data (watermarks.py)
        self.watermark_cfg = f"{prefix}-watermark-cfg"


def with_params(pathname: str, search: str | None, **changes: str | None) -> str:
    """`pathname` with the query string `search`, some parameters changed (None removes one)."""
    params = dict(parse_qsl((search or "").lstrip("?")))
    for key, value in changes.items():
        if value is None:
            params.pop(key, None)
        else:
            params[key] = value
    query = urlencode(params)
    return pathname + (f"?{query}" if query else "")


# ---- pure view functions ---------------------------------------------------------------------------

def freshness_badge(seconds: float | None, lang: str, source_down: bool = False) -> tuple[list, str]:
    """(children, className) of the 数据延迟 badge: green < 5 s, amber < 60 s, red beyond or unknown."""
    level = "bad" if source_down else freshness_level(seconds)
    text = t("fresh.down", lang) if source_down else fmt_freshness(seconds, lang)
    return [html.Span(className="fresh-dot"), html.Span(text, className="fresh-text")], f"fresh fresh-{level}"


def rebuilding_badge(lang: str) -> tuple[list, str]:
    text = html.Span(t("fresh.rebuilding", lang), className="fresh-text")
    return [html.Span(className="fresh-dot"), text], "fresh fresh-warn fresh-rebuilding"


def rates_line(snapshot, lang: str) -> list:
    return [
        html.Span(t("header.ingest", lang, rate=fmt_rate(get_in(snapshot, "ingest_rate")))),
        html.Span(t("header.rejected", lang, rate=fmt_rate(get_in(snapshot, "reject_rate"))),
                  className="rate-rejected"),
    ]


def session_badge(now: datetime, lang: str) -> tuple[list, str]:
    """(children, className) of the trading-session badge; says "outside business hours" at night, and
    why there is no trading on a weekend, an adjusted workday (调休) or a public holiday."""
    session = session_at(now)
    text = html.Span(t(f"session.{session.phase}", lang), className="session-text")
    if not session.calendar_known:  # a tooltip, not a wall-sized warning: weekdays are still right
        text.title = t("session.calendar_unknown", lang)
    children = [html.Span(className="session-dot"), text]
    if not session.business_hours:
        children.append(html.Span(t("session.off_hours", lang), className="session-off"))
    elif session.phase == "closed" and session.adjusted_workday:
        children.append(html.Span(t("session.adjusted_workday", lang), className="session-off"))
    elif session.phase == "closed" and session.weekend:
        children.append(html.Span(t("session.weekend", lang), className="session-off"))
    css = f"session session-{session.phase}"
    # a holiday is drawn like a closed market (assets/wall.css has the closed colours)
    return children, css + " session-closed" if session.phase == "holiday" else css


def tick(now: datetime | None) -> int:
    return int((now or datetime.now(TZ)).timestamp() * 1000)


# ---- layout ----------------------------------------------------------------------------------------

def lang_switch(lang: str, pathname: str, search: str | None, prefix: str) -> html.Nav:
    return html.Nav(className="lang-switch ecc-control", children=[
        dcc.Link(t(f"lang.{code}", lang), href=with_params(pathname, search, lang=code),
                 id=f"{prefix}-lang-{code}",
                 className="lang-option active" if code == lang else "lang-option")
        for code in LANGS
    ])


def screen_nav(current: str, lang: str, search: str | None, base: str = "/") -> html.Nav:
    """Tabs to every screen (hidden in kiosk mode); the query string (lang, fit, …) travels along."""
    return html.Nav(className="screen-nav ecc-control", children=[
        dcc.Link(t(f"screen.{name}", lang), href=with_params(base + SCREEN_PATHS[name], search),
                 className="screen-tab active" if name == current else "screen-tab",
                 id=f"nav-{name}")
        for name in SCREENS
    ])


def header(ids: HeaderIds, lang: str, screen: str, pathname: str, search: str | None,
           now: datetime) -> html.Header:
    moment = now.astimezone(TZ)
    badge, badge_class = freshness_badge(None, lang)
    session, session_class = session_badge(moment, lang)
    title = t("wall.title", lang) if screen == "wall" else t(f"screen.{screen}.title", lang)
    return html.Header(className="wall-header", children=[
        html.Div(className="header-side header-left", children=[
            html.Div(moment.strftime("%H:%M:%S"), id=ids.clock, className="clock"),
            html.Div([html.Div(fmt_day(moment.date().isoformat(), lang), id=ids.day, className="day"),
                      html.Div(session, id=ids.session, className=session_class)],
                     className="clock-meta", title=t("header.clock", lang)),
        ]),
        html.Div(className="header-title", children=[
            html.H1(title),
            html.Div(t("wall.subtitle", lang) if screen == "wall" else t("wall.title", lang),
                     className="subtitle"),
        ]),
        html.Div(className="header-side header-right", children=[
            html.Div(rates_line({}, lang), id=ids.rates, className="rates"),
            html.Div(badge, id=ids.freshness, className=badge_class),
            html.Div(id=ids.stale, className="fresh fresh-bad stale stale-hidden", role="status"),
            *account(lang, ids.prefix),  # signed-in user and logout (layouts/account.py; auth on only)
            lang_switch(lang, pathname, search, ids.prefix),
        ]),
    ])


def graph(graph_id: object, lang: str) -> dcc.Graph:
    return dcc.Graph(id=graph_id, figure=empty_figure(lang), responsive=True, className="graph",
                     config={"displayModeBar": False, "displaylogo": False})


def panel(name: str, title_key: str, lang: str, *body: object, note_key: str | None = None,
          source: str = "live", prefix: str = "wall") -> html.Section:
    """A titled panel; its head ends with the watermark of the `source` its body draws from."""
    head = [html.Span(className="panel-mark"), html.H2(t(title_key, lang))]
    if note_key:
        head.append(html.Span(t(note_key, lang), className="panel-note"))
    head.append(watermarks.watermark(prefix, name, source, lang))
    return html.Section(className=f"panel panel-{name}", children=[
        html.Div(head, className="panel-head"),
        html.Div(list(body), className="panel-body"),
    ])


def footer(lang: str, screen: str, search: str | None, base: str = "/") -> html.Footer:
    """Screen tabs and the keyboard help; both hidden in kiosk mode (assets/kiosk.js)."""
    return html.Footer(className="screen-footer ecc-control", children=[
        screen_nav(screen, lang, search, base),
        html.Div(t("keys.help", lang), className="keys-help"),
    ])


def stores(ids: HeaderIds, lang: str, refresh_ms: int) -> list:
    interval = max(200, int(refresh_ms))
    return [
        dcc.Interval(id=ids.interval, interval=interval),
        dcc.Interval(id=ids.clock_tick, interval=1000),
        dcc.Store(id=ids.tick),
        dcc.Store(id=ids.stale_cfg, data={
            "stale_s": max(STALE_MIN_S, STALE_AFTER_REFRESHES * interval / 1000),
            "text": t("fresh.stale", lang)}),
        *watermarks.stores(ids, lang),
    ]


def register_clientside(app: Dash, ids: HeaderIds) -> None:
    """The clock, the stale watermark and the panels' watermarks, all judged by the browser every second."""
    app.clientside_callback(_CLOCK_JS, Output(ids.clock, "children"), Input(ids.clock_tick, "n_intervals"))
    app.clientside_callback(_STALE_JS, Output(ids.stale, "children"), Output(ids.stale, "className"),
                            Input(ids.clock_tick, "n_intervals"), Input(ids.tick, "data"),
                            State(ids.stale_cfg, "data"))
    watermarks.register_clientside(app, ids)
