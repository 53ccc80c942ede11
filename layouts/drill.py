"""The drill-down pages (业务下钻): `/drill` and its views, filtered by the URL (docs/drill.md).

A manager's page, not a wall: it flows in CSS pixels and scrolls (assets/drill.css lifts it out of the
wall's scaled 1920×1080 canvas), because wide tables at the canvas's scale would be 10-pixel text on a
laptop. The URL is the state: the router renders the page from the query string; a change of a filter
control is written back to the URL (a history entry, so Back returns to the previous filter), which renders
the page again. Every number is an /api/v1 answer for the same filter (layouts/drill_api.py).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from datetime import date, datetime, timedelta

from dash import ClientsideFunction, Dash, Input, Output, State, ctx, dcc, html, no_update

from ecc.contract.catalogue import CHANNELS, STEPS, channel_label, step_label
from ecc.timeutil import TZ, day_start
from layouts import drill_api, drill_load, ids
from layouts.drill_filters import (
    COMPARES,
    INTERVALS,
    SERIES_METRICS,
    VIEW_PATHS,
    VIEWS,
    DrillFilter,
    drill_href,
    parse,
    resolve,
    series_interval,
    to_search,
    with_changes,
)
from layouts.drill_i18n import PROVINCES, dt, province_label

log = logging.getLogger(__name__)

ID_STATE = "drill-state"  # {"view", "search"}: what the router rendered
ID_NEXT = "drill-next"  # the query string the controls ask for (copied to the URL in the browser)
ID_BODY = "drill-body"
ID_ASOF = "drill-asof"
ID_REFRESH = "drill-refresh"
ID_AUTO = "drill-auto"  # the timer of a page whose period reaches the present
ID_LOADING = "drill-loading"
ID_FRESH = "drill-fresh"  # the timer's refresh: the view's new tree, set on the page in place by drill.js
ID_LOADING_MARK = "drill-loading-mark"  # written only by a requested load: the one the spinner shows for
# A period that includes today changes while it is watched: its page reads its answers again this often
# (through the API's answer cache, so a page more costs no query). A closed period stays still.
AUTO_REFRESH_S = 30
CONTROLS = {  # id -> property read from it
    "drill-period": "value", "drill-dates": "date", "drill-dates-end": "date",
    "drill-channel": "value", "drill-province": "value", "drill-step": "value", "drill-compare": "value",
    "drill-window": "value", "drill-idle": "value", "drill-metric": "value", "drill-interval": "value",
}
WINDOWS = (24, 48, 72, 168, 336, 720)
VIEW_CONTROLS = {"cohort": ("drill-window",), "callback": ("drill-window", "drill-idle"),
                 "series": ("drill-metric", "drill-interval")}


def routes() -> dict[str, Callable[[str, str, str, str], object]]:
    """Router paths (relative, no slashes) -> render(lang, pathname, search, base)."""
    def render(view: str):
        return lambda lang, pathname, search, base: layout(view, search, base)
    return {("drill/" + path).rstrip("/"): render(view) for view, path in VIEW_PATHS.items()}


# ---- layout --------------------------------------------------------------------------------------

def _options(pairs) -> list[dict]:
    return [{"label": label, "value": value} for value, label in pairs]


def _metric_label(metric: str, lang: str) -> str:
    if metric.startswith("reach_"):
        return dt("m.reach_k", lang, k=metric.removeprefix("reach_"))
    return dt(f"m.{metric}", lang)


def _field(label: str, control, name: str, hidden: bool = False) -> html.Label:
    return html.Label([html.Span(label, className="drill-field-label"), control],
                      className=f"drill-field drill-field-{name}" + (" hidden" if hidden else ""))


def _dates(f: DrillFilter, now: datetime) -> tuple[date, date]:
    period = resolve(f, now)
    last = period.end - timedelta(microseconds=1) if not period.open_end else period.end
    return period.start.astimezone(TZ).date(), last.astimezone(TZ).date()


def filter_bar(view: str, f: DrillFilter, now: datetime) -> html.Section:
    lang = f.lang
    start, end = _dates(f, now)
    channels = dict.fromkeys([*CHANNELS, *f.channels])
    provinces = dict.fromkeys([*PROVINCES, *f.provinces])
    extra = VIEW_CONTROLS.get(view, ())
    return html.Section(className="drill-filters", children=[
        _field(dt("period.label", lang), dcc.RadioItems(
            id="drill-period", value=f.period, inline=True, className="drill-radio",
            options=_options((p, dt(f"period.{p}", lang)) for p in ("today", "yesterday", "7d", "custom"))),
            "period"),
        _field("", html.Div([
            dcc.DatePickerSingle(id="drill-dates", date=start.isoformat(),
                                 display_format="YYYY-MM-DD", first_day_of_week=1, className="drill-date",
                                 initial_visible_month=start.isoformat()),
            html.Span("–", className="drill-dash"),
            dcc.DatePickerSingle(id="drill-dates-end", date=end.isoformat(),
                                 display_format="YYYY-MM-DD", first_day_of_week=1, className="drill-date",
                                 initial_visible_month=end.isoformat()),
        ], className="drill-date-range"), "dates"),
        _field(dt("channel.label", lang), dcc.Dropdown(
            id="drill-channel", value=list(f.channels), multi=True, placeholder=dt("channel.all", lang),
            options=_options((c, channel_label(c, lang)) for c in channels)), "channel"),
        _field(dt("province.label", lang), dcc.Dropdown(
            id="drill-province", value=list(f.provinces), multi=True, placeholder=dt("province.all", lang),
            options=_options((p, province_label(p, lang)) for p in provinces)), "province"),
        _field(dt("step.label", lang), dcc.Dropdown(
            id="drill-step", value=f.step, placeholder=dt("step.all", lang), clearable=True,
            options=_options((k, f"{k:02d} {step_label(k, lang)}") for k in STEPS)), "step"),
        _field(dt("compare.label", lang), dcc.RadioItems(
            id="drill-compare", value=f.compare, inline=True, className="drill-radio",
            options=_options((c, dt(f"compare.{c}", lang)) for c in COMPARES)), "compare"),
        _field(dt("window.label", lang), dcc.Dropdown(
            id="drill-window", value=f.window_hours, clearable=False,
            options=_options((w, str(w)) for w in dict.fromkeys([*WINDOWS, f.window_hours]))),
            "window", hidden="drill-window" not in extra),
        _field(dt("idle.label", lang), dcc.Input(
            id="drill-idle", type="number", min=0, max=2160, step=0.5, value=f.idle_hours, debounce=True,
            className="drill-input"), "idle", hidden="drill-idle" not in extra),
        _field(dt("metric.label", lang), dcc.Dropdown(
            id="drill-metric", value=f.metric, clearable=False,
            options=_options((m, _metric_label(m, lang)) for m in SERIES_METRICS)),
            "metric", hidden="drill-metric" not in extra),
        _field(dt("interval.label", lang), dcc.RadioItems(
            # the bucket the chart uses (hourly or daily by the period's length) checked when none is asked
            id="drill-interval", value=series_interval(f, resolve(f, now)), inline=True,
            className="drill-radio",
            options=_options((i, dt(f"interval.{i}", lang)) for i in INTERVALS)),
            "interval", hidden="drill-interval" not in extra),
    ])


def tabs(view: str, f: DrillFilter, base: str) -> html.Nav:
    return html.Nav([dcc.Link(dt(f"view.{v}", f.lang), href=drill_href(base, v, f), id=f"drill-tab-{v}",
                              className="drill-tab" + (" active" if v == view else ""))
                     for v in VIEWS], className="drill-tabs")


def refreshes(f: DrillFilter, now: datetime) -> bool:
    """Whether the filter's period reaches the present (today, the last 7 days, a custom period to now)."""
    return resolve(f, now).open_end


def header(view: str, f: DrillFilter, base: str, live: bool = False) -> html.Header:
    other = "en" if f.lang == "zh" else "zh"
    wall = base + ("?lang=en" if f.lang == "en" else "")
    return html.Header(className="drill-header", children=[
        html.A(dt("back.wall", f.lang), href=wall, className="drill-back", id="drill-back-wall"),
        html.H1(dt("title", f.lang)),
        html.Span(id=ID_ASOF, className="drill-asof"),
        html.Span(dt("auto_refresh", f.lang, s=AUTO_REFRESH_S), className="drill-auto-note",
                  id="drill-auto-note") if live else None,
        html.Button(dt("refresh", f.lang), id=ID_REFRESH, className="drill-button"),
        dcc.Link("EN" if other == "en" else "中文", href=drill_href(base, view, with_changes(f, lang=other)),
                 className="drill-lang", id="drill-lang"),
    ])


def layout(view: str, search: str | None, base: str = "/", now: datetime | None = None) -> html.Div:
    f = parse(search)
    moment = now or datetime.now(TZ)
    text = "; ".join(dt(key, f.lang, **details) for key, details in f.problems)
    problems = [html.Div(dt("problems", f.lang, text=text), className="drill-problems")] if f.problems else []
    live = refreshes(f, moment)
    return html.Div(className=f"drill-page drill-view-{view} lang-{f.lang}", lang=f.lang, children=[
        dcc.Store(id=ID_STATE, data={"view": view, "search": to_search(f), "base": base}),
        dcc.Store(id=ID_NEXT),
        dcc.Store(id=ID_FRESH),
        dcc.Interval(id=ID_AUTO, interval=AUTO_REFRESH_S * 1000, disabled=not live),
        header(view, f, base, live),
        tabs(view, f, base),
        filter_bar(view, f, moment),
        *problems,
        # the spinner follows only ID_LOADING_MARK, which the timer's refresh does not write
        dcc.Loading([html.Main(id=ID_BODY, className="drill-body"), dcc.Store(id=ID_LOADING_MARK)],
                    type="dot", color="#22d3ee", delay_show=250, id=ID_LOADING,
                    target_components={ID_LOADING_MARK: "data"}),
    ])


# ---- controls -> URL ------------------------------------------------------------------------------

def _day(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        return day_start(date.fromisoformat(text[:10]))
    except ValueError:
        return None


def next_filter(f: DrillFilter, trigger: str | None, values: dict, now: datetime) -> DrillFilter:
    """The filter after one control changed (`trigger` its id, `values` every control's value)."""
    changes: dict = {}
    if trigger in ("drill-dates", "drill-dates-end"):
        start, end = _dates(f, now)
        first = _day(values.get("drill-dates")) or day_start(start)
        last = _day(values.get("drill-dates-end")) or day_start(end)
        if last < first:
            first, last = last, first
        changes = {"period": "custom", "start": first, "end": last + timedelta(days=1)}
    elif trigger == "drill-period":
        period = values.get("drill-period") or "today"
        if period == "custom":
            start, end = _dates(f, now)
            changes = {"period": "custom", "start": day_start(start),
                       "end": None if resolve(f, now).open_end else day_start(end) + timedelta(days=1)}
        else:
            changes = {"period": period}
    elif trigger == "drill-channel":
        changes = {"channels": tuple(values.get("drill-channel") or ())}
    elif trigger == "drill-province":
        changes = {"provinces": tuple(values.get("drill-province") or ())}
    elif trigger == "drill-step":
        step = values.get("drill-step")
        changes = {"step": int(step) if step else None}
    elif trigger == "drill-compare":
        changes = {"compare": values.get("drill-compare") or f.compare}
    elif trigger == "drill-window" and values.get("drill-window"):
        changes = {"window_hours": int(values["drill-window"])}
    elif trigger == "drill-idle" and values.get("drill-idle") is not None:
        changes = {"idle_hours": max(0.0, min(2160.0, float(values["drill-idle"])))}
    elif trigger == "drill-metric" and values.get("drill-metric"):
        changes = {"metric": values["drill-metric"]}
    elif trigger == "drill-interval":
        changes = {"interval": values.get("drill-interval")}
    return with_changes(f, **changes)


# The browser writes the asked query string into the URL: a history entry (Back returns to it), and the
# router renders the page for it. Done client-side so the server callback never outputs to the shell.
_TO_URL_JS = """function(next) {
    if (typeof next !== 'string' || next === window.location.search) {
        return window.dash_clientside.no_update;
    }
    return next;
}"""


# ---- wall click-through ---------------------------------------------------------------------------

def click_config() -> dict:
    """What assets/drill.js needs to turn a click on the wall into a drill-down address: channel labels as
    the charts show them (both languages) -> channel code, and each KPI card's target view and params."""
    labels = {}
    for code in CHANNELS:
        for lang in ("zh", "en"):
            labels[channel_label(code, lang)] = code
    return {
        "channels": labels,
        "kpi": {"leads": ["series", {"metric": "leads"}], "dial_rate": ["channels", {}],
                "opened": ["funnel", {"step": "11"}], "open_rate": ["cohort", {}],
                "first_deposits": ["series", {"metric": "first_deposits"}],
                "deposit_amount": ["series", {"metric": "deposit_amount"}],
                "net_inflow": ["series", {"metric": "net_inflow"}]},
        "figures": {"funnel": "funnel", "channels": "overview", "trend": "series", "assets": "money",
                    "wealth": "money", "rejects": "overview", "provinces": "money", "tiers": "money"},
        "paths": {view: path for view, path in VIEW_PATHS.items()},
    }


# ---- callbacks -----------------------------------------------------------------------------------

def register_callbacks(app: Dash, _snapshot_provider=None,
                       clock: Callable[[], datetime] | None = None) -> None:
    now = clock or (lambda: datetime.now(TZ))
    config = json.dumps(click_config(), ensure_ascii=False)
    app.config.meta_tags.append({"name": "ecc-drill", "content": config})
    # The drill-down's ids for Dash's validation (the router renders the page only on its path).
    app.validation_layout = html.Div([app.validation_layout, layout("overview", "", "/")])

    def body(state: dict | None):
        state = state or {}
        f = parse(state.get("search"))
        try:
            return drill_load.load(state.get("view") or "overview", f, now(), drill_api.get,
                                   state.get("base") or "/")
        except Exception:  # a view must say it failed rather than leave a blank page
            log.exception("drill-down view %s failed", state.get("view"))
            return [html.Div(dt("error.api", f.lang, error="internal error"), className="drill-error")], ""

    @app.callback(
        Output(ID_BODY, "children"), Output(ID_ASOF, "children"), Output(ID_LOADING_MARK, "data"),
        Input(ID_STATE, "data"), Input(ID_REFRESH, "n_clicks"),
    )
    def fill(state: dict | None, _clicks: int | None):
        return (*body(state), _clicks or 0)

    # The timer's refresh: the same answers read again (the API's answer cache serves every page watching
    # the same filter), sent as a tree that assets/drill.js lays over the page in place: Dash replacing
    # `children` would mount every chart and table again (a blank flash, the scroll position lost). No
    # loading spinner either (it follows ID_LOADING_MARK only), so a watched page does not blink.
    @app.callback(
        Output(ID_FRESH, "data"), Output(ID_ASOF, "children", allow_duplicate=True),
        Input(ID_AUTO, "n_intervals"), State(ID_STATE, "data"),
        prevent_initial_call=True,
    )
    def refresh(_ticks: int | None, state: dict | None):
        tree, asof = body(state)
        return {"body": tree}, asof

    app.clientside_callback(ClientsideFunction("drill", "refresh"),
                            Output(ID_BODY, "children", allow_duplicate=True),
                            Input(ID_FRESH, "data"), State(ID_BODY, "children"), prevent_initial_call=True)

    @app.callback(
        Output(ID_NEXT, "data"),
        *(Input(cid, prop) for cid, prop in CONTROLS.items()),
        State(ID_STATE, "data"),
        prevent_initial_call=True,
    )
    def write_back(*args):
        *values, state = args
        f = parse((state or {}).get("search"))
        chosen = dict(zip(CONTROLS, values, strict=True))
        nxt = next_filter(f, ctx.triggered_id, chosen, now())
        if nxt == f:
            return no_update
        return to_search(nxt)

    app.clientside_callback(_TO_URL_JS, Output(ids.URL, "search", allow_duplicate=True),
                            Input(ID_NEXT, "data"), prevent_initial_call=True)
