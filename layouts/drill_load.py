"""What each drill-down view shows: the /api/v1 requests it makes for a filter, and the components drawn
from their answers. `get(path, params)` is layouts.drill_api.get in the app (the API in process).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from urllib.parse import urlencode

from dash import dcc, html

from ecc.contract.catalogue import OPENED_STEP, step_label
from ecc.timeutil import TZ
from layouts import drill_figures as figs
from layouts.drill_api import Answer
from layouts.drill_filters import (
    DrillFilter,
    Period,
    api_params,
    compare_period,
    drill_href,
    iso,
    resolve,
    series_interval,
    with_changes,
)
from layouts.drill_i18n import dt
from layouts.drill_views import (
    OVERVIEW_METRICS,
    callback_table,
    channel_table,
    error_box,
    formatted,
    kpi_cards,
    raw,
    rejects_table,
    section,
)

Getter = Callable[[str, Sequence[tuple[str, str]]], Answer]
MAX_HEATMAP_DAYS = 31
MONEY_METRICS = ("first_deposits", "deposit_amount", "net_inflow", "deposit_rate", "aum", "turnover_rate")
CALLBACK_LIMIT = 1000  # rows on the page
CALLBACK_CSV_LIMIT = 100_000  # rows in its CSV: the call-back team works the whole list (the API's maximum)


def graph(graph_id: str, fig) -> dcc.Graph:
    return dcc.Graph(id=graph_id, figure=fig, config={"displayModeBar": False, "displaylogo": False},
                     className="drill-graph")


def _failed(answer: Answer, lang: str) -> html.Div:
    if answer.status in (401, 403):
        return error_box(dt("error.forbidden", lang) if answer.status == 403 else dt("error.api", lang,
                                                                                      error=answer.error))
    return error_box(dt("error.api", lang, error=answer.error))


def _compare_name(f: DrillFilter) -> str:
    return dt(f"compare.{f.compare}", f.lang)


def overview(f: DrillFilter, period: Period, get: Getter, base: str) -> list:
    lang = f.lang
    now_answer = get("kpis", api_params(f, period))
    if not now_answer.ok:
        return [_failed(now_answer, lang)]
    kpis = now_answer.body
    cmp_period = compare_period(f, period)
    compare = None
    if cmp_period is not None:
        answer = get("kpis", api_params(f, cmp_period))
        compare = answer.body if answer.ok else None
    name = _compare_name(f)
    fresh = kpis.get("freshness_s")
    out = [kpi_cards(kpis, compare, f, base, name)]
    if fresh is not None:  # an id, so that a refresh where only the seconds moved sets this note alone
        out.append(html.Div(dt("freshness", lang, seconds=f"{fresh:,.0f}"), id="drill-freshness",
                            className="drill-note"))
    out.append(section(dt("overview.funnel", lang),
                       graph("drill-funnel-graph", figs.funnel_figure(kpis, compare, lang, f.step, name))))
    out.append(section(dt("overview.rejects", lang), rejects_table(kpis, lang, f.step)))
    out.append(section(dt("money.wealth", lang), graph("drill-wealth-graph", figs.wealth_figure(kpis, lang))))
    return out


def channels(f: DrillFilter, period: Period, get: Getter, base: str) -> list:
    # /channels splits by channel itself: it takes the province filter, not the channel one
    answer = get("channels", api_params(with_changes(f, channels=()), period))
    if not answer.ok:
        return [_failed(answer, f.lang)]
    rows = answer.body.get("channels") or []
    if f.channels:  # the chosen channels' rows (a channel with no event has none: an empty table says so)
        rows = [r for r in rows if r.get("channel") in f.channels]
    body = channel_table(rows, f) if rows else html.Div(dt("empty", f.lang), className="drill-note")
    return [section(dt("channels.title", f.lang), body, name="drill-channels")]


def _day_label(day: datetime, lang: str) -> str:
    return day.strftime("%m-%d" if lang == "en" else "%m月%d日")


def funnel(f: DrillFilter, period: Period, get: Getter, base: str) -> list:
    lang = f.lang
    out = []
    if f.step is not None and f.step < OPENED_STEP:
        out.append(html.A(f"{dt('view.callback', lang)} · {f.step:02d} {step_label(f.step, lang)} →",
                          href=drill_href(base, "callback", f), className="drill-link drill-jump"))
    by_channel = get("channels", api_params(with_changes(f, channels=()), period))
    if not by_channel.ok:
        return [_failed(by_channel, lang)]
    rows = by_channel.body.get("channels") or []
    out.append(section(dt("funnel.by_channel", lang),
                       graph("drill-channel-step-graph", figs.channel_step_heatmap(rows, lang, f.step))))
    days = period.days
    cut = len(days) > MAX_HEATMAP_DAYS
    days = days[-MAX_HEATMAP_DAYS:]
    per_day = []
    for day in days:
        end = min(day + timedelta(days=1), period.end)
        start = max(day, period.start)
        closed = Period(start, end, period.open_end and end >= period.end)
        answer = get("kpis", api_params(with_changes(f, period="custom"), closed, today_is_default=False))
        if not answer.ok:
            return [*out, _failed(answer, lang)]
        per_day.append((_day_label(day, lang), answer.body))
    body = [graph("drill-day-step-graph", figs.day_step_heatmap(per_day, lang))]
    if cut:
        body.insert(0, html.Div(dt("funnel.days_cut", lang, n=MAX_HEATMAP_DAYS), className="drill-note"))
    out.append(section(dt("funnel.by_day", lang), *body))
    return out


def cohort(f: DrillFilter, period: Period, get: Getter, base: str) -> list:
    lang = f.lang
    answer = get("funnel", api_params(f, period, window_hours=f.window_hours))
    if not answer.ok:
        return [_failed(answer, lang)]
    body = answer.body
    ttc = body.get("time_to_convert") or {}
    return [
        section(dt("cohort.title", lang, hours=f.window_hours),
                graph("drill-cohort-graph", figs.cohort_figure(body, lang)),
                html.Div([html.Span(str(body.get("cohort", {}).get(str(k), "")), id=f"drill-cohort-{k}",
                                    **{"data-value": raw(body.get("cohort", {}).get(str(k)))})
                          for k in range(1, OPENED_STEP + 1)], className="drill-hidden-values")),
        section(dt("cohort.ttc", lang),
                html.Div(dt("cohort.ttc_count", lang, count=f"{ttc.get('count') or 0:,}"),
                         className="drill-note"),
                html.Div(dt("cohort.ttc_hist", lang), className="drill-subtitle"),
                graph("drill-ttc-hist-graph", figs.ttc_histogram_figure(body.get("time_to_convert_histogram"),
                                                                        lang)),
                html.Div([html.Span(str(b.get("leads", "")), id=f"drill-ttc-bucket-{i}",
                                    **{"data-value": raw(b.get("leads")), "data-from-s": raw(b.get("from_s")),
                                       "data-to-s": raw(b.get("to_s"))})
                          for i, b in enumerate((body.get("time_to_convert_histogram") or {}).get("buckets")
                                                or [])], className="drill-hidden-values"),
                html.Div(dt("cohort.ttc_quantiles", lang), className="drill-subtitle"),
                graph("drill-ttc-graph", figs.time_to_convert_figure(ttc, lang)),
                html.Div(dt("cohort.ttc_note", lang), className="drill-note")),
    ]


def callback_params(f: DrillFilter, period: Period, limit: int = CALLBACK_LIMIT) -> list[tuple[str, str]]:
    """The /funnel/dropped request of the call-back view (the CSV button asks the same with text/csv,
    for the whole list)."""
    return api_params(f, period, step=f.step, window_hours=f.window_hours, idle_hours=f"{f.idle_hours:g}",
                      limit=limit)


def callback(f: DrillFilter, period: Period, get: Getter, base: str) -> list:
    lang = f.lang
    if f.step is None or f.step >= OPENED_STEP:
        return [error_box(dt("callback.pick_step", lang))]
    answer = get("funnel/dropped", callback_params(f, period))
    if not answer.ok:
        return [_failed(answer, lang)]
    items = answer.body.get("items") or []
    count = answer.body.get("count", len(items))
    # The API counts what it returns: at the page's limit there may be more (the CSV holds them all).
    shown = f"{count:,}+" if isinstance(count, int) and count >= CALLBACK_LIMIT else f"{count:,}"
    title = dt("callback.title", lang, step=f"{f.step:02d} {step_label(f.step, lang)}",
               hours=f"{f.idle_hours:g}", count=shown)
    csv_query = urlencode(callback_params(f, period, CALLBACK_CSV_LIMIT))
    csv_url = f"{base.rstrip('/')}/api/v1/funnel/dropped?{csv_query}"
    return [section(title,
                    html.Div([
                        html.Button(dt("callback.export", lang), id="drill-callback-csv",
                                    className="drill-button",
                                    **{"data-csv-url": csv_url,
                                       "data-filename": f"callback-step{f.step}.csv"}),
                        html.Span(dt("callback.limit", lang, n=f"{CALLBACK_LIMIT:,}"),
                                  className="drill-note"),
                    ], className="drill-actions"),
                    html.Div(str(answer.body.get("count", len(items))), id="drill-callback-count",
                             className="drill-hidden-values",
                             **{"data-value": raw(answer.body.get("count"))}),
                    callback_table(items, lang), name="drill-callback")]


def money(f: DrillFilter, period: Period, get: Getter, base: str) -> list:
    lang = f.lang
    kpis = get("kpis", api_params(f, period))
    assets = get("assets", api_params(f, period))
    if not kpis.ok:
        return [_failed(kpis, lang)]
    cmp = compare_period(f, period)
    compare = get("kpis", api_params(f, cmp)).body if cmp is not None else None
    metrics = [m for m in OVERVIEW_METRICS if m.name in MONEY_METRICS]
    out = [section(dt("money.kpis", lang), kpi_cards(kpis.body, compare, f, base, _compare_name(f), metrics))]
    if not assets.ok:
        return [*out, _failed(assets, lang)]
    at = str(assets.body.get("at", ""))[:19].replace("T", " ")
    out.append(html.Div([dt("money.at", lang, time=at), " · ", dt("m.aum", lang), " ",
                         html.Span(formatted("money", assets.body.get("total"), lang), id="drill-aum-total",
                                   **{"data-value": raw(assets.body.get("total"))})],
                        id="drill-money-at", className="drill-note"))  # its time moves: an id to land on
    grid = [section(dt(f"money.{kind}", lang), graph(f"drill-{kind.replace('_', '-')}-graph",
                                                     figs.breakdown_figure(assets.body, kind, lang)))
            for kind in ("by_class", "by_level", "by_segment", "by_province", "by_channel")]
    out.append(html.Div(grid, className="drill-grid"))
    out.append(section(dt("money.wealth", lang),
                       graph("drill-wealth-graph", figs.wealth_figure(kpis.body, lang))))
    return out


def series(f: DrillFilter, period: Period, get: Getter, base: str) -> list:
    lang = f.lang
    interval = series_interval(f, period)
    answer = get("series", api_params(f, period, metric=f.metric, interval=interval))
    if not answer.ok:
        return [_failed(answer, lang)]
    name = dt(f"m.{f.metric}", lang) if not f.metric.startswith("reach_") else \
        dt("m.reach_k", lang, k=f.metric.removeprefix("reach_"))
    return [section(f"{name} · {dt(f'interval.{interval}', lang)}",
                    graph("drill-series-graph", figs.series_figure(answer.body, lang, period.open_end)))]


VIEWS: dict[str, Callable[[DrillFilter, Period, Getter, str], list]] = {
    "overview": overview, "channels": channels, "funnel": funnel, "cohort": cohort, "callback": callback,
    "money": money, "series": series,
}


def load(view: str, f: DrillFilter, now: datetime, get: Getter, base: str = "/") -> tuple[list, str]:
    """(components of `view`, the "as of" line) for the filter at `now`."""
    period = resolve(f, now)
    if period.start > now:  # nothing has happened in it yet (and the API's `to`, the clock, precedes `from`)
        body = [section(dt("period.future", f.lang), name="drill-future")]
    else:
        body = VIEWS.get(view, overview)(f, period, get, base)
    end = "" if period.open_end else iso(period.end)[:16].replace("T", " ")
    span = dt("period.range", f.lang, start=iso(period.start)[:16].replace("T", " "),
              end=end or dt("period.now", f.lang))
    stamp = dt("as_of", f.lang, time=now.astimezone(TZ).strftime("%H:%M:%S"))
    return body, f"{span} · {stamp}"
