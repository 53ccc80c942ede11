"""Province distribution as a ranked bar chart: AUM by province (the `by_province` of GET /api/v1/assets,
from the wall context); and AUM by segment and level, the same kind of chart.

Why not a map of China: no geometry of China's provinces ships in a package with a licence we can pass
on (PyPI and Debian hold none fit to vendor), and a map published in China must show the official
boundaries (审图号 review), which a hand-drawn or foreign GeoJSON does not guarantee. A ranked chart
states the same ranking without either risk.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal

import plotly.graph_objects as go

from ecc.contract.catalogue import LEVELS, PROVINCE_NAMES_EN, SEGMENT_NAMES
from layouts.compare import context
from layouts.figures import TEXT, _figure, _gradient, empty_figure, ranked_categories
from layouts.formatting import as_decimal, as_mapping, fmt_money, get_in, short_money
from layouts.i18n import t

TOP = 8  # more bars than this make their labels too small to read across a room


def province_rows(snapshot: Mapping, top: int = TOP) -> list[tuple[str, Decimal]]:
    """(province, AUM) largest first, the `top` largest; "unknown" (no province) stays out of the ranking."""
    rows = []
    for name, value in as_mapping(get_in(context(snapshot), "assets", "by_province")).items():
        amount = as_decimal(value)
        if amount is not None and amount > 0 and name != "unknown":
            rows.append((str(name), amount))
    rows.sort(key=lambda row: (-row[1], row[0]))
    return rows[:top]


def province_figure(snapshot: Mapping, lang: str = "zh") -> go.Figure:
    rows = province_rows(snapshot)
    if not rows:
        return empty_figure(lang)
    # the English wall names them in English (the narrow panel has no room for both, as the drill-down has)
    names = [PROVINCE_NAMES_EN.get(name, name) if lang == "en" else name for name, _ in rows]
    values = [float(amount) for _, amount in rows]
    bars = dict(
        type="bar", y=names, x=values, orientation="h",
        marker=dict(color=_gradient(len(rows), (251, 191, 36), (249, 115, 22)), line=dict(width=0)),
        text=[short_money(amount, lang) for _, amount in rows], textposition="outside", cliponaxis=False,
        textfont=dict(size=14, color=TEXT),
        # [the province as the events name it (the drill-down's filter: assets/drill.js), the amount]
        customdata=[[name, fmt_money(amount, lang)] for name, amount in rows],
        hovertemplate="%{y}<br>" + t("fig.aum_province", lang) + " %{customdata[1]}<extra></extra>",
    )
    return _figure("provinces", margin=dict(l=8, r=8, t=8, b=8), data=[bars], bargap=0.34,
                   xaxis=dict(range=[0, max(values) * 1.45], visible=False, fixedrange=True),
                   yaxis=ranked_categories(tickfont=dict(size=14, color=TEXT)))


def tier_rows(snapshot: Mapping, lang: str) -> list[tuple[str, Decimal]]:
    """AUM by customer segment (交易型/理财型/配置型), then by level V7 down to V0: the contract's order,
    not a ranking, so a level keeps its place from one second to the next."""
    assets = as_mapping(get_in(context(snapshot), "assets"))
    rows = []
    segments, levels = as_mapping(assets.get("by_segment")), as_mapping(assets.get("by_level"))
    for code, names in SEGMENT_NAMES.items():
        amount = as_decimal(segments.get(code))
        if amount is not None and amount > 0:
            rows.append((names[0 if lang != "en" else 1], amount))
    for level in reversed(LEVELS):
        amount = as_decimal(levels.get(level))
        if amount is not None and amount > 0:
            rows.append((level, amount))
    return rows


def tier_figure(snapshot: Mapping, lang: str = "zh") -> go.Figure:
    """AUM by segment and by level (the `by_segment` and `by_level` of GET /api/v1/assets) as one ranked
    strip: the three segments in violet, the levels in cyan."""
    rows = tier_rows(snapshot, lang)
    if not rows:
        return empty_figure(lang)
    segment_names = {names[0 if lang != "en" else 1] for names in SEGMENT_NAMES.values()}
    values = [float(amount) for _, amount in rows]
    bars = dict(
        type="bar", y=[name for name, _ in rows], x=values, orientation="h",
        marker=dict(color=["#a78bfa" if name in segment_names else "#22d3ee" for name, _ in rows],
                    line=dict(width=0)),
        text=[short_money(amount, lang) for _, amount in rows], textposition="outside", cliponaxis=False,
        textfont=dict(size=13, color=TEXT), customdata=[fmt_money(amount, lang) for _, amount in rows],
        hovertemplate="%{y}<br>" + t("fig.aum_province", lang) + " %{customdata}<extra></extra>",
    )
    # Eleven rows in a short panel: thin bars would shrink their labels below legibility; at least 12 px.
    return _figure("tiers", margin=dict(l=8, r=8, t=8, b=8), data=[bars], bargap=0.22,
                   uniformtext=dict(minsize=12, mode="show"),
                   xaxis=dict(range=[0, max(values) * 1.5], visible=False, fixedrange=True),
                   yaxis=ranked_categories(tickfont=dict(size=13, color=TEXT)))
