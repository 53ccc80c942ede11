"""Pure plotly figure builders for the screens: snapshot dict in, figure out, no I/O.

Each builder accepts a snapshot that may be empty or partial (`{}` early in the day) and then returns
an empty-but-clean figure carrying a "no data" note instead of raising.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal

import plotly.graph_objects as go

from ecc.contract.catalogue import ASSET_CLASS_NAMES, STEPS, channel_label, step_label
from layouts.compare import breakpoints, context, marked
from layouts.formatting import (
    as_decimal,
    as_float,
    as_int,
    as_mapping,
    fmt_int,
    fmt_money,
    fmt_pct,
    get_in,
)
from layouts.i18n import t

FONT_FAMILY = '"Noto Sans CJK SC", "Microsoft YaHei", sans-serif'
TEXT = "#dbe7ff"
MUTED = "#7d90b5"
GRID = "rgba(120, 160, 230, 0.12)"
CYAN = "#22d3ee"
BLUE = "#3b82f6"
GREEN = "#34d399"
AMBER = "#fbbf24"
RED = "#ff5c7a"
CLASS_COLORS = {
    "stock": "#38bdf8",
    "fund": "#a78bfa",
    "wealth": "#fbbf24",
    "bond": "#34d399",
    "cash": "#64748b",
    "other": "#f472b6",
}
FALLBACK_COLORS = ("#22d3ee", "#a78bfa", "#fbbf24", "#34d399", "#f472b6", "#60a5fa", "#fb923c", "#94a3b8")

TEMPLATE = go.layout.Template(
    layout=dict(
        font=dict(family=FONT_FAMILY, color=TEXT, size=14),
        paper_bgcolor="rgba(0,0,0,0)",
        plot_bgcolor="rgba(0,0,0,0)",
        colorway=list(FALLBACK_COLORS),
        hoverlabel=dict(bgcolor="#0b1733", bordercolor=CYAN, font=dict(family=FONT_FAMILY, color=TEXT)),
        xaxis=dict(gridcolor=GRID, zerolinecolor=GRID, linecolor=GRID, tickfont=dict(color=MUTED)),
        yaxis=dict(gridcolor=GRID, zerolinecolor=GRID, linecolor=GRID, tickfont=dict(color=MUTED)),
        legend=dict(font=dict(color=TEXT), bgcolor="rgba(0,0,0,0)"),
        separators=".,",
    )
)

# The funnel chart's horizontal margin; the HTML step strip under it uses the same padding so that
# its 11 cells sit under the 11 bars (assets/wall.css: .funnel-steps).
FUNNEL_MARGIN_PX = 8


def _figure(uirevision: str, margin: Mapping[str, int] | None = None, data: Sequence[Mapping] = (),
            **layout: object) -> go.Figure:
    """A themed figure. `uirevision` names the chart: while it stays the same from one update to the
    next, Plotly.react keeps hover and legend state and patches the SVG in place (no flash); the empty
    placeholder has its own, so the first real figure is drawn in full (axis direction included).

    The traces (`data`, dicts with their `type`) and the whole layout go in at once: plotly validates
    them in one pass, where building the same figure by update_layout / update_xaxes / add_annotation
    calls validated and deep-copied it again at every call (13.5 ms instead of 2.8 ms for the channel
    chart, which the wall rebuilds nearly every second: docs/wall.md)."""
    settings: dict[str, object] = {"template": TEMPLATE,
                                   "margin": dict(l=8, r=8, t=8, b=8) if margin is None else dict(margin),
                                   "showlegend": False, "uirevision": uirevision}
    settings.update(layout)
    return go.Figure(data=list(data), layout=settings)


def empty_figure(lang: str = "zh") -> go.Figure:
    """A transparent figure without axes that says "no data yet"."""
    return _figure("empty", xaxis=dict(visible=False), yaxis=dict(visible=False), annotations=[dict(
        text=t("fig.empty", lang), x=0.5, y=0.5, xref="paper", yref="paper", showarrow=False,
        font=dict(size=20, color=MUTED),
    )])


def _gradient(n: int, start: tuple[int, int, int], end: tuple[int, int, int]) -> list[str]:
    if n <= 1:
        return [f"rgb{start}"] * n
    return [
        "rgb({},{},{})".format(*(round(a + (b - a) * i / (n - 1)) for a, b in zip(start, end, strict=True)))
        for i in range(n)
    ]


def funnel_reach(snapshot: Mapping) -> list[int | None]:
    return [as_int(get_in(snapshot, "totals", "reach", str(k))) for k in STEPS]


def funnel_conversions(snapshot: Mapping) -> list[float | None]:
    return [as_float(get_in(snapshot, "ratios", "step_conversion", str(k))) for k in STEPS[:-1]]


def funnel_figure(snapshot: Mapping, lang: str = "zh") -> go.Figure:
    """The 11 steps as bars and the breakpoint conversion between each pair; a breakpoint well below its
    own baseline (same hours on recent days, layouts/compare.py) is red, with how far below."""
    reach = [value or 0 for value in funnel_reach(snapshot)]
    if not any(reach):
        return empty_figure(lang)
    conversions = funnel_conversions(snapshot)
    judged = breakpoints(snapshot)
    marks = marked(judged)
    top = max(reach)
    bars = dict(
        type="bar", x=list(STEPS), y=reach,
        marker=dict(color=_gradient(len(STEPS), (34, 211, 238), (59, 92, 246)), line=dict(width=0)),
        customdata=[step_label(k, lang) for k in STEPS],
        hovertemplate="%{customdata}<br>" + t("fig.reach", lang) + " %{y:,}<extra></extra>",
    )
    # Shapes and annotations go in as one list each: plotly re-validated the whole tuple on every
    # add_annotation / add_vrect (quadratic: 20 ms of a 30 ms figure; docs/wall.md).
    shapes = [dict(type="rect", xref="x", yref="y domain", x0=k + 0.2, x1=k + 0.8, y0=0, y1=0.93,
                   fillcolor="rgba(255,92,122,0.13)", line=dict(width=0), layer="below") for k in marks]
    # One rail of breakpoint badges along the top, each between the two bars it compares.
    notes = []
    for k, ratio in enumerate(conversions, start=1):
        level = marks.get(k)
        notes.append(dict(
            x=k + 0.5, y=1.0, xref="x", yref="paper", yanchor="top",
            text=("▼ " if level else "→ ") + fmt_pct(ratio), showarrow=False,
            font=dict(size=16 if level else 14, color="#ffe1e7" if level else "#9eeeff"),
            bgcolor=("rgba(255,92,122,0.55)" if level == "bad" else "rgba(255,92,122,0.30)") if level
            else "rgba(34,211,238,0.10)",
            bordercolor=RED if level else "rgba(34,211,238,0.45)", borderwidth=1, borderpad=4,
            hovertext=_breakpoint_hover(judged.get(k), lang), captureevents=False,
        ))
        if level:
            notes.append(dict(
                x=k + 0.5, y=1.0, xref="x", yref="paper", yanchor="top", yshift=-34, showarrow=False,
                text=t("fig.below_baseline", lang, pct=fmt_pct(judged[k]["below"], 0)),
                font=dict(size=14, color=RED),
            ))
    return _figure("funnel", margin=dict(l=FUNNEL_MARGIN_PX, r=FUNNEL_MARGIN_PX, t=6, b=0), data=[bars],
                   bargap=0.38, shapes=shapes, annotations=notes,
                   xaxis=dict(range=[0.5, len(STEPS) + 0.5], showticklabels=False, showgrid=False,
                              zeroline=False, fixedrange=True),
                   yaxis=dict(range=[0, top * 1.3], visible=False, fixedrange=True))


def _breakpoint_hover(row: Mapping | None, lang: str) -> str | None:
    if not row:
        return None
    return t("fig.baseline_hover", lang, today=fmt_pct(row["today"]), baseline=fmt_pct(row["baseline"]))


def ranked_categories(**changes: object) -> dict:
    """A horizontal-bar category axis (the layout's `yaxis`): first row on top, labels in full."""
    return {**dict(autorange="reversed", showgrid=False, tickfont=dict(size=15, color=TEXT),
                   ticksuffix="  ", automargin=True, fixedrange=True), **changes}


def channel_rows(snapshot: Mapping) -> list[tuple[str, int, int, float | None]]:
    """(channel, leads, opened, open_rate) per channel, most leads first."""
    rows = []
    for code, stats in as_mapping(get_in(snapshot, "by_channel")).items():
        stats = as_mapping(stats)
        rows.append((str(code), as_int(stats.get("leads")) or 0, as_int(stats.get("opened")) or 0,
                     as_float(stats.get("open_rate"))))
    rows.sort(key=lambda row: (-row[1], row[0]))
    return rows


def channel_figure(snapshot: Mapping, lang: str = "zh") -> go.Figure:
    """Leads by channel as horizontal bars, accounts opened overlaid; dial rate, opened and open rate on
    the right (the channel leaderboard in one chart)."""
    rows = channel_rows(snapshot)
    if not rows:
        return empty_figure(lang)
    labels = [channel_label(code, lang) for code, *_ in rows]
    leads = [row[1] for row in rows]
    opened = [row[2] for row in rows]
    traces = [dict(
        type="bar", y=labels, x=leads, orientation="h", name=t("fig.leads", lang),
        marker=dict(color=_gradient(len(rows), (34, 211, 238), (59, 92, 246)), line=dict(width=0)),
        text=[fmt_int(value) for value in leads], textposition="outside", cliponaxis=False,
        textfont=dict(size=14, color=TEXT),
        hovertemplate="%{y}<br>" + t("fig.leads", lang) + " %{x:,}<extra></extra>",
    ), dict(
        type="bar", y=labels, x=opened, orientation="h", name=t("fig.opened", lang), width=0.22,
        marker=dict(color=GREEN, line=dict(width=0)),
        hovertemplate="%{y}<br>" + t("fig.opened", lang) + " %{x:,}<extra></extra>",
    )]
    by_channel = as_mapping(get_in(snapshot, "by_channel"))
    notes = [dict(  # the leaderboard's other columns: dial rate, opened, open rate
        x=1.0, y=label, xref="paper", yref="y", xanchor="left", xshift=12, showarrow=False,
        text=f"<span style='color:{CYAN}'>{fmt_pct(as_float(get_in(by_channel, code, 'dial_rate')))}</span>"
             f"<span style='color:{MUTED}'> · </span><span style='color:{GREEN}'>{fmt_int(n_opened)}</span>"
             f"<span style='color:{MUTED}'> · {fmt_pct(rate)}</span>",
        font=dict(size=15),
    ) for label, (code, _, n_opened, rate) in zip(labels, rows, strict=True)]
    notes.append(dict(x=1.0, y=1.0, xref="paper", yref="paper", xanchor="left", yanchor="bottom", xshift=12,
                      showarrow=False, text=t("fig.channel_side", lang), font=dict(size=14, color=MUTED)))
    top = max(leads) or 1
    return _figure("channels", margin=dict(l=8, r=196, t=34, b=8), data=traces, barmode="overlay",
                   bargap=0.34, showlegend=True,
                   legend=dict(orientation="h", x=0, y=1.0, yanchor="bottom", font=dict(size=15)),
                   annotations=notes, xaxis=dict(range=[0, top * 1.18], visible=False, fixedrange=True),
                   yaxis=ranked_categories())


def _class_label(code: str, lang: str) -> str:
    names = ASSET_CLASS_NAMES.get(code)
    if names is None:
        return code
    return names[1] if lang == "en" else names[0]


def _color(code: str, index: int) -> str:
    return CLASS_COLORS.get(code, FALLBACK_COLORS[index % len(FALLBACK_COLORS)])


def aum_now(snapshot: Mapping) -> Mapping:
    """AUM now (total, by_class, by_level, …) as GET /api/v1/assets answers it, from the wall context."""
    return as_mapping(get_in(context(snapshot), "assets"))


def asset_figure(snapshot: Mapping, lang: str = "zh", legend_below: bool = False) -> go.Figure:
    """AUM by asset class as a donut, the total in its centre. The legend sits right of the donut in a
    wide panel (the wall's); `legend_below` puts it under the donut in a narrow, tall one (the assets
    screen's quarter of the width), where beside it the largest class's label ran into the legend.

    From the wall context (`aum_now`: GET /api/v1/assets, once a minute), not the live counters: AUM
    sums every account's latest snapshot however old, and the live store keeps only its 8-day window."""
    aum = aum_now(snapshot)
    amounts: list[tuple[str, Decimal]] = []
    for code, value in as_mapping(aum.get("by_class")).items():
        amount = as_decimal(value)
        if amount is not None and amount > 0:
            amounts.append((str(code), amount))
    if not amounts:
        return empty_figure(lang)
    total = as_decimal(aum.get("total"))
    if total is None:
        total = sum((amount for _, amount in amounts), Decimal(0))
    donut = dict(
        type="pie",
        labels=[_class_label(code, lang) + (f"  {fmt_money(amount, lang)}" if lang != "en" else "")
                for code, amount in amounts],
        customdata=[fmt_money(amount, lang) for _, amount in amounts],
        values=[float(amount) for _, amount in amounts],
        hole=0.66, sort=False, direction="clockwise",
        marker=dict(colors=[_color(code, i) for i, (code, _) in enumerate(amounts)],
                    line=dict(color="#071026", width=3)),
        textinfo="percent", textposition="outside", textfont=dict(size=15, color=TEXT), automargin=True,
        hovertemplate="%{label}<br>%{customdata}<br>%{percent}<extra></extra>",
    )
    total_text = fmt_money(total, lang)
    centre = dict(text=f"<span style='font-size:13px;color:{MUTED}'>{t('fig.aum', lang)}</span><br>"
                       f"<b>{total_text}</b>",
                  x=0.5, y=0.5, xref="paper", yref="paper", showarrow=False,
                  font=dict(size=max(12, min(20, round(140 / (0.62 * len(total_text))))), color=TEXT))
    legend = dict(orientation="h", x=0.5, xanchor="center", y=-0.06, yanchor="top") if legend_below \
        else dict(orientation="v", x=1.08, xanchor="left", y=0.5, yanchor="middle")
    return _figure("assets", margin=dict(l=8, r=8, t=24, b=24), data=[donut], showlegend=True,
                   legend=dict(**legend, font=dict(size=14), itemclick=False, itemdoubleclick=False),
                   annotations=[centre])


def wealth_figure(snapshot: Mapping, lang: str = "zh") -> go.Figure:
    """Share of trade amount by product, largest first."""
    shares = []
    for code, value in as_mapping(get_in(snapshot, "ratios", "wealth_preference")).items():
        share = as_float(value)
        if share is not None:
            shares.append((str(code), share))
    if not shares or not any(share for _, share in shares):
        return empty_figure(lang)
    shares.sort(key=lambda item: -item[1])
    bars = dict(
        type="bar", y=[_class_label(code, lang) for code, _ in shares], x=[share for _, share in shares],
        orientation="h",
        marker=dict(color=[_color(code, i) for i, (code, _) in enumerate(shares)], line=dict(width=0)),
        text=[fmt_pct(share) for _, share in shares], textposition="outside", cliponaxis=False,
        textfont=dict(size=15, color=TEXT),
        hovertemplate="%{y}<br>" + t("fig.share", lang) + " %{x:.1%}<extra></extra>",
    )
    top = max(share for _, share in shares) or 1
    return _figure("wealth", margin=dict(l=8, r=8, t=8, b=8), data=[bars], bargap=0.42,
                   xaxis=dict(range=[0, top * 1.4], visible=False, fixedrange=True),  # room for the label
                   yaxis=ranked_categories())


def reject_figure(snapshot: Mapping, lang: str = "zh") -> go.Figure:
    """Reject rate per step (rejects ÷ (reach + rejects)) for the steps that reject, the count on each bar."""
    rows = []
    for k in STEPS:
        rate = as_float(get_in(snapshot, "ratios", "reject_rate", str(k)))
        count = as_int(get_in(snapshot, "totals", "rejects", str(k)))
        if rate is not None and count:
            rows.append((k, rate, count))
    if not rows:
        return empty_figure(lang)
    bars = dict(
        type="bar", y=[f"{k:02d} {step_label(k, lang)}" for k, _, _ in rows], x=[rate for _, rate, _ in rows],
        orientation="h", marker=dict(color=RED, line=dict(width=0)),
        text=[f"{fmt_pct(rate)} · {fmt_int(count)}" for _, rate, count in rows], textposition="outside",
        cliponaxis=False, textfont=dict(size=15, color=TEXT),
        hovertemplate="%{y}<br>" + t("fig.reject_rate", lang) + " %{x:.1%}<extra></extra>",
    )
    top = max(rate for _, rate, _ in rows) or 1
    return _figure("rejects", margin=dict(l=8, r=8, t=8, b=8), data=[bars], bargap=0.42,
                   xaxis=dict(range=[0, top * 1.35], visible=False, fixedrange=True),
                   yaxis=ranked_categories())
