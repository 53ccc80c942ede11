"""Pure Plotly figures of the drill-down pages: API answers (decoded JSON) in, figures out, no I/O.

The theme is the wall's dark one at a desk's scale (CSS pixels, not the wall's design canvas). Every
builder takes what /api/v1 answered, possibly empty, and draws an empty-but-clean chart instead of raising.
Money arrives as decimal strings and is drawn as floats (a chart's bar, not a shown sum: the exact figure is
in the hover text, formatted from the string).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import plotly.graph_objects as go

from ecc.contract.catalogue import ASSET_CLASS_NAMES, SEGMENT_NAMES, STEPS, step_label
from layouts.drill_i18n import channel_name, dt, province_label
from layouts.formatting import as_decimal, as_float, as_int, fmt_int, fmt_money, fmt_pct

FONT = '"Noto Sans CJK SC", "Microsoft YaHei", "PingFang SC", sans-serif'
TEXT, MUTED, GRID = "#dbe7ff", "#7d90b5", "rgba(120, 160, 230, 0.14)"
CYAN, BLUE, GREEN, AMBER, RED, VIOLET = "#22d3ee", "#3b82f6", "#34d399", "#fbbf24", "#ff5c7a", "#a78bfa"
COMPARE_COLOR = "rgba(167, 139, 250, 0.55)"
HEAT = [[0.0, "#0b1733"], [0.5, "#1d4ed8"], [1.0, "#22d3ee"]]

_AXIS = dict(gridcolor=GRID, zerolinecolor=GRID, linecolor=GRID, tickfont=dict(color=MUTED), automargin=True)
_TEMPLATE = go.layout.Template(layout=dict(
    font=dict(family=FONT, color=TEXT, size=13),
    paper_bgcolor="rgba(0,0,0,0)", plot_bgcolor="rgba(0,0,0,0)",
    colorway=[CYAN, VIOLET, AMBER, GREEN, "#f472b6", "#60a5fa", "#fb923c", "#94a3b8"],
    hoverlabel=dict(bgcolor="#0b1733", bordercolor=CYAN, font=dict(family=FONT, color=TEXT)),
    xaxis=_AXIS,
    yaxis=_AXIS,
    legend=dict(font=dict(color=TEXT), bgcolor="rgba(0,0,0,0)", orientation="h", y=1.02, yanchor="bottom"),
    separators=".,",
))


def figure(name: str, height: int = 320, left: int = 56, **layout: object) -> go.Figure:
    """A themed figure; `left` is room for the category labels of a y axis (channel names, provinces)."""
    fig = go.Figure()
    settings: dict[str, object] = {"showlegend": False, "uirevision": name, "height": height,
                                   "margin": dict(l=left, r=56, t=30, b=40)}
    settings.update(layout)
    fig.update_layout(template=_TEMPLATE, **settings)
    return fig


def empty(lang: str, height: int = 240) -> go.Figure:
    fig = figure("empty", height)
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    fig.add_annotation(text=dt("empty", lang), x=0.5, y=0.5, xref="paper", yref="paper", showarrow=False,
                       font=dict(size=16, color=MUTED))
    return fig


def _steps(mapping: Mapping | None, steps: Sequence[int] = STEPS) -> list:
    mapping = mapping or {}
    return [mapping.get(str(k)) for k in steps]


def funnel_figure(kpis: Mapping, compare: Mapping | None, lang: str, step: int | None = None,
                  compare_name: str = "") -> go.Figure:
    """reach[k] per step (this period, and the compared one faintly behind), step conversion on the right.
    Each bar's customdata is its step number: a click on it drills into that step."""
    reach = [as_int(v) or 0 for v in _steps(kpis.get("reach"))]
    if not any(reach):
        return empty(lang, 340)
    fig = figure("drill-funnel", 340, barmode="overlay", showlegend=True, xaxis=dict(type="category"),
                 yaxis2=dict(overlaying="y", side="right", range=[0, 1.05], tickformat=".0%", showgrid=False,
                             automargin=True))
    labels = [f"{k:02d}" for k in STEPS]
    names = [step_label(k, lang) for k in STEPS]
    if compare is not None:
        fig.add_trace(go.Bar(x=labels, y=[as_int(v) or 0 for v in _steps(compare.get("reach"))],
                             name=compare_name, marker=dict(color=COMPARE_COLOR), width=0.8,
                             customdata=list(STEPS),
                             hovertemplate="%{y:,}<extra>" + compare_name + "</extra>"))
    colors = [AMBER if step == k else CYAN for k in STEPS]
    fig.add_trace(go.Bar(x=labels, y=reach, name=dt("m.reach", lang), marker=dict(color=colors), width=0.5,
                         customdata=list(STEPS), text=[fmt_int(v) for v in reach], textposition="outside",
                         cliponaxis=False, hovertext=names,
                         hovertemplate="%{hovertext}<br>%{y:,}<extra></extra>"))
    conv = [as_float(v) for v in _steps(kpis.get("step_conversion"), STEPS[:-1])]
    fig.add_trace(go.Scatter(x=[f"{k:02d}" for k in STEPS[:-1]], y=conv, yaxis="y2", mode="lines+markers",
                             name=dt("m.step_conversion", lang), line=dict(color=GREEN, width=2),
                             hovertemplate="%{y:.1%}<extra>" + dt("m.step_conversion", lang) + "</extra>"))
    return fig


def channel_step_heatmap(rows: Sequence[Mapping], lang: str, step: int | None = None) -> go.Figure:
    """Channel (rows) × step (columns): reach as text, step conversion as colour (weak cells stand out)."""
    if not rows:
        return empty(lang, 360)
    names = [channel_name(str(r.get("channel")), lang) for r in rows]
    reach = [[as_int(v) for v in _steps(r.get("reach"))] for r in rows]
    conv = [[as_float(v) for v in _steps(r.get("step_conversion"), STEPS[:-1])] + [None] for r in rows]
    codes = [[str(r.get("channel"))] * len(STEPS) for r in rows]
    fig = figure("drill-channel-step", max(260, 44 * len(rows) + 80), left=140, xaxis=dict(type="category"))
    fig.add_trace(go.Heatmap(
        x=[f"{k:02d}" for k in STEPS], y=names, z=conv, zmin=0, zmax=1, colorscale=HEAT,
        text=[[fmt_int(v) for v in row] for row in reach], texttemplate="%{text}", customdata=codes,
        hovertemplate="%{y} · %{x}<br>" + dt("m.reach", lang) + " %{text}<br>"
                      + dt("m.step_conversion", lang) + " %{z:.1%}<extra></extra>",
        colorbar=dict(tickformat=".0%", thickness=10), xgap=2, ygap=2))
    fig.update_yaxes(autorange="reversed")
    if step is not None:  # the step the page is filtered to
        fig.add_shape(type="rect", xref="x", yref="paper", x0=step - 1.5, x1=step - 0.5, y0=0, y1=1,
                      line=dict(color=AMBER, width=2))
    return fig


def day_step_heatmap(days: Sequence[tuple[str, Mapping]], lang: str) -> go.Figure:
    """Day (rows) × step (columns): reach per day for the filter."""
    if not days:
        return empty(lang, 300)
    reach = [[as_int(v) or 0 for v in _steps(k.get("reach"))] for _, k in days]
    fig = figure("drill-day-step", max(240, 34 * len(days) + 80), left=90, xaxis=dict(type="category"))
    fig.add_trace(go.Heatmap(
        x=[f"{k:02d}" for k in STEPS], y=[day for day, _ in days], z=reach, colorscale=HEAT,
        texttemplate="%{z:,}",
        hovertemplate="%{y} · %{x}<br>" + dt("m.reach", lang) + " %{z:,}<extra></extra>",
        colorbar=dict(thickness=10), xgap=2, ygap=2))
    fig.update_yaxes(autorange="reversed", type="category")
    return fig


def cohort_figure(funnel: Mapping, lang: str) -> go.Figure:
    cohort = [as_int(v) or 0 for v in _steps(funnel.get("cohort"))]
    if not any(cohort):
        return empty(lang, 340)
    fig = figure("drill-cohort", 340, showlegend=True, xaxis=dict(type="category"),
                 yaxis2=dict(overlaying="y", side="right", range=[0, 1.05], tickformat=".0%", showgrid=False,
                             automargin=True))
    labels = [f"{k:02d}" for k in STEPS]
    fig.add_trace(go.Bar(x=labels, y=cohort, name=dt("cohort.cohort", lang), marker=dict(color=BLUE),
                         customdata=list(STEPS), text=[fmt_int(v) for v in cohort], textposition="outside",
                         cliponaxis=False, hovertext=[step_label(k, lang) for k in STEPS],
                         hovertemplate="%{hovertext}<br>%{y:,}<extra></extra>"))
    fig.add_trace(go.Scatter(x=labels, y=[as_float(v) for v in _steps(funnel.get("overall_conversion"))],
                             yaxis="y2", mode="lines+markers", name=dt("cohort.overall", lang),
                             line=dict(color=AMBER, width=2), hovertemplate="%{y:.1%}<extra></extra>"))
    fig.add_trace(go.Scatter(x=labels[:-1],
                             y=[as_float(v) for v in _steps(funnel.get("step_conversion"), STEPS[:-1])],
                             yaxis="y2", mode="lines+markers", name=dt("m.step_conversion", lang),
                             line=dict(color=GREEN, width=2, dash="dot"),
                             hovertemplate="%{y:.1%}<extra></extra>"))
    return fig


def time_to_convert_figure(ttc: Mapping, lang: str) -> go.Figure:
    """The API's time-to-convert quantiles (hours) as bars: P50, P90, P99 and the mean."""
    mean = "mean" if lang == "en" else "均值"
    keys = (("p50_s", "P50"), ("p90_s", "P90"), ("p99_s", "P99"), ("mean_s", mean))
    values = [(label, as_float(ttc.get(key))) for key, label in keys]
    if not as_int(ttc.get("count")) or all(v is None for _, v in values):
        return empty(lang, 220)
    fig = figure("drill-ttc", 220)
    hours = [None if v is None else v / 3600 for _, v in values]
    fig.add_trace(go.Bar(x=hours, y=[label for label, _ in values], orientation="h",
                         marker=dict(color=VIOLET),
                         text=[("—" if h is None else f"{h:,.1f} h") for h in hours], textposition="outside",
                         cliponaxis=False, hovertemplate="%{y}: %{x:,.2f} h<extra></extra>"))
    fig.update_yaxes(autorange="reversed")
    fig.update_xaxes(ticksuffix=" h")
    return fig


def _span(seconds: int, lang: str) -> tuple[str, str]:
    """A bucket bound as (number, unit): whole minutes under an hour, hours under a day, then days."""
    for size, unit in ((86_400, "unit.d"), (3_600, "unit.h")):
        if seconds >= size:
            return f"{seconds / size:g}", dt(unit, lang)
    return f"{seconds // 60:g}", dt("unit.min", lang)


def bucket_label(low_s: int, high_s: int | None, lang: str) -> str:
    """'<5 min', '5–10 min', '45 min–1 h', '≥3 d' (zh: '<5分钟' …): the unit said once when shared."""
    sep = " " if lang == "en" else ""
    if high_s is None:
        number, unit = _span(low_s, lang)
        return f"≥{number}{sep}{unit}"
    high, high_unit = _span(high_s, lang)
    if low_s == 0:
        return f"<{high}{sep}{high_unit}"
    low, low_unit = _span(low_s, lang)
    low_text = low if low_unit == high_unit else f"{low}{sep}{low_unit}"
    return f"{low_text}–{high}{sep}{high_unit}"


def ttc_histogram_figure(histogram: Mapping | None, lang: str) -> go.Figure:
    """The API's time_to_convert_histogram: leads per bucket, in bucket order; the open bucket past the
    window (chains restarted at a later step 1) in amber, with its own hover note."""
    buckets = list((histogram or {}).get("buckets") or [])
    total = as_int((histogram or {}).get("count")) or 0
    if not total or not buckets:
        return empty(lang, 260)
    fig = figure("drill-ttc-hist", 260, xaxis=dict(type="category"), bargap=0.08)
    labels = [bucket_label(as_int(b.get("from_s")) or 0, as_int(b.get("to_s")), lang) for b in buckets]
    leads = [as_int(b.get("leads")) or 0 for b in buckets]
    notes = [dt("cohort.ttc_open", lang) if b.get("to_s") is None else "" for b in buckets]
    fig.add_trace(go.Bar(x=labels, y=leads, marker=dict(color=[AMBER if b.get("to_s") is None else CYAN
                                                              for b in buckets]),
                         text=[fmt_int(v) if v else "" for v in leads], textposition="outside",
                         cliponaxis=False, customdata=[[v / total, note] for v, note in zip(leads, notes,
                                                                                             strict=True)],
                         hovertemplate="%{x}: %{y:,} (%{customdata[0]:.1%})<br>%{customdata[1]}"
                                       "<extra></extra>"))
    return fig


def _label(kind: str, key: str, lang: str) -> str:
    if kind == "by_channel":
        return channel_name(key, lang)
    if key in ("unknown", "", None):
        return dt("unknown", lang)
    if kind == "by_class":
        names = ASSET_CLASS_NAMES.get(key)
        return key if names is None else names[0 if lang != "en" else 1]
    if kind == "by_segment":
        names = SEGMENT_NAMES.get(key)
        return key if names is None else names[0 if lang != "en" else 1]
    if kind == "by_province":
        return province_label(key, lang)
    return key


def breakdown_figure(assets: Mapping, kind: str, lang: str, top: int = 15) -> go.Figure:
    """One AUM breakdown of /assets (`by_class`, `by_level`, …) as ranked bars, exact amounts in the hover.
    customdata holds the key (a channel code, a province) so a click can filter by it."""
    values = assets.get(kind) or {}
    items = [(str(k), as_decimal(v)) for k, v in values.items()]
    items = [(k, v) for k, v in items if v is not None]
    if kind != "by_level":
        items.sort(key=lambda kv: -kv[1])
    items = items[:top]
    if not items or not any(v for _, v in items):
        return empty(lang, 240)
    fig = figure(f"drill-{kind}", max(200, 26 * len(items) + 60), left=150)
    fig.add_trace(go.Bar(
        y=[_label(kind, k, lang) for k, _ in items], x=[float(v) for _, v in items], orientation="h",
        customdata=[k for k, _ in items], marker=dict(color=CYAN),
        hovertext=[fmt_money(v, lang) for _, v in items],
        hovertemplate="%{y}<br>%{hovertext}<extra></extra>"))
    fig.update_yaxes(autorange="reversed", automargin=True)
    return fig


def wealth_figure(kpis: Mapping, lang: str) -> go.Figure:
    shares = [(str(k), as_float(v)) for k, v in (kpis.get("wealth_preference") or {}).items()]
    shares = [(k, v) for k, v in shares if v is not None]
    if not shares:
        return empty(lang, 220)
    shares.sort(key=lambda kv: -kv[1])
    fig = figure("drill-wealth", max(180, 30 * len(shares) + 50), left=130)
    fig.add_trace(go.Bar(y=[_label("by_class", k, lang) for k, _ in shares], x=[v for _, v in shares],
                         orientation="h", marker=dict(color=AMBER), text=[fmt_pct(v) for _, v in shares],
                         textposition="outside", cliponaxis=False,
                         hovertemplate="%{y}: %{x:.1%}<extra></extra>"))
    fig.update_yaxes(autorange="reversed", automargin=True)
    fig.update_xaxes(tickformat=".0%")
    return fig


def series_figure(series: Mapping, lang: str, partial_last: bool) -> go.Figure:
    """The metric per bucket with the API's previous_day / previous_week companions, aligned on the
    current buckets; the last bucket of a period that reaches now is still counting (dotted)."""
    points = series.get("points") or []
    if not points:
        return empty(lang, 360)
    money = any(isinstance(p.get("value"), str) for p in points)

    def values(key: str) -> tuple[list, list]:
        rows = series.get(key) or []
        return [p.get("t") for p in rows], [float(as_decimal(p.get("value")) or 0) if money
                                            else (as_int(p.get("value")) or 0) for p in rows]

    fig = figure("drill-series", 360, showlegend=True, hovermode="x unified")
    for key, name, color, dash in (("previous_week", "series.previous_week", VIOLET, "dot"),
                                   ("previous_day", "series.previous_day", AMBER, "dash"),
                                   ("points", "series.current", CYAN, "solid")):
        xs, ys = values(key)
        if key == "points" and partial_last and len(xs) > 1:
            fig.add_trace(go.Scatter(x=xs[:-1], y=ys[:-1], name=dt(name, lang), mode="lines+markers",
                                     line=dict(color=color, width=3)))
            fig.add_trace(go.Scatter(x=xs[-2:], y=ys[-2:], name=dt("series.partial", lang),
                                     mode="lines+markers",
                                     line=dict(color=color, width=2, dash="dot"), showlegend=True))
        else:
            fig.add_trace(go.Scatter(x=xs, y=ys, name=dt(name, lang), mode="lines",
                                     line=dict(color=color, width=3 if key == "points" else 1.5, dash=dash)))
    # Dates in numbers (Plotly's own labels are English: "Nov 30, 2026" on a Chinese page)
    fig.update_xaxes(hoverformat="%Y-%m-%d %H:%M", tickformatstops=[
        dict(dtickrange=[None, 86_400_000], value="%H:%M<br>%m-%d"),
        dict(dtickrange=[86_400_000, None], value="%m-%d<br>%Y")])
    return fig
