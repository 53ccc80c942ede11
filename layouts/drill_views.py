"""Pure HTML/table views of the drill-down: API answers in, Dash components out, no I/O.

Every shown number keeps the API's raw value in `data-value` (money as the API's decimal string), so a
test can compare the page with `/api/v1` exactly, and people see it formatted.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal

from dash import dash_table, html

from ecc.contract.catalogue import STEPS, channel_label, step_label
from layouts.drill_filters import DrillFilter, drill_href, with_changes
from layouts.drill_i18n import channel_name, dt, province_label
from layouts.formatting import as_decimal, as_float, as_int, fmt_int, fmt_money, fmt_pct

DASH = "—"


@dataclass(frozen=True)
class Metric:
    name: str
    kind: str  # "count" | "ratio" | "money"
    view: str  # where a click on its card leads
    series: str | None = None  # its /series metric, when it has one


OVERVIEW_METRICS = (
    Metric("leads", "count", "series", "leads"),
    Metric("dialed_leads", "count", "series", "dialed_leads"),
    Metric("dial_rate", "ratio", "channels"),
    Metric("connected_leads", "count", "channels"),
    Metric("opened", "count", "funnel", "opened"),
    Metric("open_rate", "ratio", "cohort"),
    Metric("first_deposits", "count", "series", "first_deposits"),
    Metric("deposit_amount", "money", "series", "deposit_amount"),
    Metric("net_inflow", "money", "series", "net_inflow"),
    Metric("deposit_rate", "ratio", "money"),
    Metric("aum", "money", "money"),
    Metric("turnover_rate", "ratio", "money"),
)


def raw(value: object) -> str:
    """The API's value as text for `data-value` ("" for null)."""
    if value is None:
        return ""
    return value if isinstance(value, str) else repr(value) if isinstance(value, float) else str(value)


def formatted(kind: str, value: object, lang: str) -> str:
    if kind == "ratio":
        return fmt_pct(value, 2 if value is not None and abs(as_float(value) or 0) < 0.1 else 1)
    if kind == "money":
        return fmt_money(value, lang)
    return fmt_int(value)


def delta(kind: str, current: object, previous: object) -> tuple[str, str]:
    """(text, "up" | "down" | "flat" | "") of the change: relative for counts and money, percentage points
    for ratios; "—" when either side is unknown or the base is 0."""
    if kind == "ratio":
        a, b = as_float(current), as_float(previous)
        if a is None or b is None:
            return DASH, ""
        diff = (a - b) * 100
        return f"{diff:+.1f} pp", "up" if diff > 0.05 else "down" if diff < -0.05 else "flat"
    money = kind == "money"
    a, b = (as_decimal(current), as_decimal(previous)) if money else (as_int(current), as_int(previous))
    if a is None or b is None or b == 0:
        return DASH, "" if a is None or b is None else ("up" if a > 0 else "flat")
    change = (Decimal(a) - Decimal(b)) / abs(Decimal(b)) * 100
    return f"{change:+.1f}%", "up" if change > 0 else "down" if change < 0 else "flat"


def kpi_cards(kpis: Mapping, compare: Mapping | None, f: DrillFilter, base: str, compare_name: str,
              metrics: Sequence[Metric] = OVERVIEW_METRICS) -> html.Div:
    """KPI cards: value, compared value and change; each card links to the view behind it."""
    lang = f.lang
    cards = []
    for m in metrics:
        value = kpis.get(m.name)
        target = with_changes(f, metric=m.series) if m.series else f
        shown = formatted(m.kind, value, lang)
        children = [
            html.Div(dt(f"m.{m.name}", lang), className="drill-kpi-label"),
            # --chars: a long amount (English money in full: "1,027,369,678.95") shrinks to its card
            # instead of being cut with an ellipsis (assets/drill.css, as the wall's cards do)
            html.Div(shown, id=f"drill-kpi-{m.name}", className="drill-kpi-value",
                     style={"--chars": str(max(len(shown), 8))},
                     **{"data-value": raw(value), "data-metric": m.name}),
        ]
        if compare is not None:
            text, trend = delta(m.kind, value, compare.get(m.name))
            children.append(html.Div([
                html.Span(text, className=f"drill-delta {trend}"),
                html.Span(dt("delta.vs", lang, value=formatted(m.kind, compare.get(m.name), lang)) +
                          f" · {compare_name}", className="drill-kpi-compare",
                          **{"data-value": raw(compare.get(m.name))}),
            ], className="drill-kpi-foot"))
        cards.append(html.A(children, href=drill_href(base, m.view, target), className="drill-kpi drill-link",
                            id=f"drill-card-{m.name}"))
    return html.Div(cards, className="drill-kpis")


def rejects_table(kpis: Mapping, lang: str, step: int | None) -> html.Table:
    head = html.Tr([html.Th(dt("col.step", lang)), html.Th(dt("m.reach", lang)),
                    html.Th(dt("m.step_conversion", lang)), html.Th(dt("m.rejects", lang)),
                    html.Th(dt("m.reject_rate", lang))])
    rows = []
    reach = kpis.get("reach") or {}
    for k in STEPS:
        key = str(k)
        rows.append(html.Tr([
            html.Td(f"{k:02d} {step_label(k, lang)}"),
            html.Td(fmt_int(reach.get(key)), **{"data-value": raw(reach.get(key))}),
            html.Td(fmt_pct((kpis.get("step_conversion") or {}).get(key))),
            html.Td(fmt_int((kpis.get("rejects") or {}).get(key))),
            html.Td(fmt_pct((kpis.get("reject_rate") or {}).get(key))),
        ], className="selected" if step == k else "", id=f"drill-step-row-{k}"))
    return html.Table([html.Thead(head), html.Tbody(rows)], className="drill-table")


CHANNEL_COLUMNS = (
    ("leads", "count"), ("dialed_leads", "count"), ("dial_rate", "ratio"), ("connected_leads", "count"),
    ("opened", "count"), ("open_rate", "ratio"), ("first_deposits", "count"), ("deposit_amount", "money"),
    ("net_inflow", "money"), ("deposit_rate", "ratio"), ("aum", "money"), ("turnover_rate", "ratio"),
)
HEADER_STYLE = {"backgroundColor": "#0d1d42", "color": "#dbe7ff", "fontWeight": "600", "border": "none"}
CELL_STYLE = {"backgroundColor": "transparent", "color": "#dbe7ff", "border": "none",
              "borderBottom": "1px solid rgba(56,189,248,0.15)", "fontFamily": "inherit",
              "padding": "6px 10px"}
_PERCENT = dash_table.FormatTemplate.percentage(1)
_MONEY_FMT = dash_table.Format.Format(precision=2, scheme=dash_table.Format.Scheme.fixed,
                                      group=dash_table.Format.Group.yes)
_INT_FMT = dash_table.Format.Format(group=dash_table.Format.Group.yes)


def _number(kind: str, value: object) -> float | int | None:
    if kind == "money":
        amount = as_decimal(value)
        return None if amount is None else float(amount)  # exact to the cent below 10^13 CNY
    return as_float(value) if kind == "ratio" else as_int(value)


def channel_table(rows: Sequence[Mapping], f: DrillFilter) -> dash_table.DataTable:
    """One row per channel (GET /api/v1/channels), sortable, exported as CSV by the table itself.
    The channel cell holds the plain name, because the table's CSV export writes the cells' data as they
    are (a markdown link would land in the file as "[name](url)"); a click on it opens the overview
    filtered to the row's channel, the other filters kept (assets/drill.js reads the code beside it)."""
    lang = f.lang
    step = f.step
    extra = [(f"reach_{step}", "count"), (f"step_conversion_{step}", "ratio")] if step and step < 11 else \
        [(f"reach_{step}", "count")] if step else []
    data = []
    for row in rows:
        code = str(row.get("channel"))
        name = channel_name(code, lang, row.get("name_en" if lang == "en" else "name_zh"))
        item = {"channel": name, "code": code}
        for key, kind in CHANNEL_COLUMNS:
            item[key] = _number(kind, row.get(key))
        if step:
            item[f"reach_{step}"] = as_int((row.get("reach") or {}).get(str(step)))
            if step < 11:
                item[f"step_conversion_{step}"] = as_float((row.get("step_conversion") or {}).get(str(step)))
        data.append(item)
    fmt = {"count": _INT_FMT, "ratio": _PERCENT, "money": _MONEY_FMT}
    columns = [{"id": "channel", "name": dt("col.channel", lang)},
               {"id": "code", "name": dt("col.code", lang)}]
    for key, kind in (*CHANNEL_COLUMNS, *extra):
        if key.startswith("reach_"):
            name = dt("m.reach_k", lang, k=step)
        elif key.startswith("step_conversion_"):
            name = f"{dt('m.step_conversion', lang)} {step}→{step + 1}"
        else:
            name = dt(f"m.{key}", lang)
        columns.append({"id": key, "name": name, "type": "numeric", "format": fmt[kind]})
    return dash_table.DataTable(
        id="drill-channel-table", data=data, persistence=True, persisted_props=["sort_by"],
        persistence_type="memory", columns=columns, sort_action="native", sort_mode="single",
        export_format="csv", export_headers="display",
        style_as_list_view=True, cell_selectable=False, page_action="none",
        style_table={"overflowX": "auto"},
        # the table's own export button says "Export" in every language: its text is replaced
        css=[{"selector": ".export", "rule": "display: inline-block; font-size: 0"},
             {"selector": ".export::after",
              "rule": f"content: '{dt('channels.export', lang)}'; font-size: 14px"}],
        style_header={**HEADER_STYLE, "whiteSpace": "normal", "height": "auto"},
        style_cell={**CELL_STYLE, "minWidth": "72px"},
        style_cell_conditional=[{"if": {"column_id": "code"}, "color": "#7d90b5"},
                                {"if": {"column_id": "channel"}, "color": "#22d3ee", "cursor": "pointer",
                                 "textAlign": "left", "textDecoration": "underline"}],
    )


CALLBACK_COLUMNS = ("lead_id", "phone_masked", "channel", "province", "furthest_step", "last_step_at",
                    "idle_hours")


def callback_table(items: Sequence[Mapping], lang: str) -> dash_table.DataTable:
    """The call-back list as the API gave it (masked phones only: the API never returns a raw one)."""
    data = []
    for item in items:
        row = {key: item.get(key) for key in CALLBACK_COLUMNS}
        row["channel"] = channel_label(str(item.get("channel") or ""), lang)
        row["province"] = province_label(str(item.get("province") or ""), lang) or DASH
        row["last_step_at"] = str(item.get("last_step_at") or "")[:19].replace("T", " ")
        data.append(row)
    numbers = ("furthest_step", "idle_hours")
    formats = {"idle_hours": {"format": dash_table.Format.Format(precision=1,
                                                                 scheme=dash_table.Format.Scheme.fixed)}}
    columns = [{"id": key, "name": dt(f"col.{key}", lang),
                **({"type": "numeric", **formats.get(key, {})} if key in numbers else {})}
               for key in CALLBACK_COLUMNS]
    left = [{"if": {"column_id": key}, "textAlign": "left"} for key in CALLBACK_COLUMNS if key not in numbers]
    return dash_table.DataTable(
        id="drill-callback-table", data=data, persistence=True, persisted_props=["sort_by"],
        persistence_type="memory", columns=columns, sort_action="native", page_size=50,
        style_as_list_view=True, cell_selectable=False, style_table={"overflowX": "auto"},
        style_header=HEADER_STYLE, style_cell=CELL_STYLE,
        # ids, phones, names and times read left to right (DataTable right-aligns every text cell);
        # the two numbers stay right-aligned, as in every other table
        style_cell_conditional=left, style_header_conditional=left,
    )


def error_box(message: str) -> html.Div:
    return html.Div(message, className="drill-error", role="alert")


def section(title: str, *body: object, name: str = "") -> html.Section:
    return html.Section([html.H2(title, className="drill-section-title"), *body],
                        className=f"drill-section {name}".strip())
