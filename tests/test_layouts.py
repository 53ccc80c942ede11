"""The wall screen: pure figure builders and formatters, then one real browser against the Dash app."""

from __future__ import annotations

import copy
import json
import math
import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import plotly.graph_objects as go
import plotly.io as pio
import pytest
from dash import html, no_update
from plotly.utils import PlotlyJSONEncoder

from ecc.config import Settings
from ecc.contract.catalogue import CHANNELS, STEPS
from ecc.timeutil import TZ
from layouts import (
    alerts_view,
    compare,
    context,
    figures,
    kpi_cards,
    money_views,
    provinces,
    screens,
    trend,
    wall,
)
from layouts.app import APP_TITLE, create_app
from layouts.chrome import screen_nav, session_badge, with_params
from layouts.formatting import (
    effective_freshness,
    fmt_day,
    fmt_freshness,
    fmt_int,
    fmt_money,
    fmt_pct,
    freshness_level,
    money_parts,
)
from layouts.i18n import STRINGS, lang_from_search, normalize_lang, short_step_label, t
from layouts.memo import ViewMemo, digest
from layouts.session import Session, session_at

REACH = (15230, 12874, 11902, 11210, 9874, 9310, 6420, 5980, 5702, 5516, 4987)
CHANNEL_LEADS = {
    "douyin": (4820, 1210), "app_store": (3650, 1012), "wechat": (3010, 905), "search": (2480, 640),
    "internet_platform": (1960, 512), "bank_partner": (1240, 388), "customer_referral": (880, 201),
    "branch_referral": (602, 119),
}


def sample_snapshot(now: datetime | None = None) -> dict:
    """A realistic mid-afternoon snapshot: 8 channels, the 11 steps, per-minute series since 09:00."""
    now = (now or datetime.now(TZ)).astimezone(TZ)
    reach = {str(k): n for k, n in zip(STEPS, REACH, strict=True)}
    conversion = {str(k): REACH[k] / REACH[k - 1] for k in STEPS[:-1]}
    rejects = {"2": 412, "5": 96, "7": 231, "8": 187, "10": 64}
    start = now.replace(hour=9, minute=0, second=0, microsecond=0)
    minutes = [(start + timedelta(minutes=i)).strftime("%H:%M") for i in range(335)]
    leads_series = [[m, int(50 + 16 * math.sin(i / 41) + 5 * math.sin(i / 6.1) + i / 20)]
                    for i, m in enumerate(minutes)]
    opened_series = [[m, int(14 + 4 * math.sin(i / 37 + 1) + 2 * math.sin(i / 5.3))]
                     for i, m in enumerate(minutes)]
    by_channel = {}
    for code, (leads, opened) in CHANNEL_LEADS.items():
        by_channel[code] = {"leads": leads, "dialed_leads": int(leads * 0.83), "opened": opened,
                            "reach": {"1": int(leads * 0.8)}, "first_deposits": int(opened * 0.4),
                            "deposit_amount": "1000.00", "dial_rate": 0.83, "open_rate": opened / leads}
    return {
        "day": now.date().isoformat(),
        "generated_at": now.isoformat(),
        "totals": {
            "leads": 18642, "dialed_leads": 15473, "connected_leads": 11208,
            "reach": reach, "rejects": rejects,
            "opened": 4987, "first_deposits": 2031,
            "deposit_amount": "123456789.12", "withdraw_amount": "23456789.00", "net_inflow": "100000000.12",
            "trade_amount": {"stock": "8000000", "fund": "3000000", "wealth": "2500000", "bond": "900000",
                             "other": "100000"},
            "calls": 40211,
        },
        "ratios": {
            "dial_rate": 15473 / 18642, "connect_rate": 11208 / 18642, "open_rate": 4987 / 18642,
            "deposit_rate": 2650 / 4987,
            "step_conversion": conversion,
            "reject_rate": {k: (rejects.get(k, 0) / (reach[k] + rejects.get(k, 0))) for k in reach},
            "wealth_preference": {"stock": 0.5555, "fund": 0.2083, "wealth": 0.1736, "bond": 0.0625,
                                  "other": 0.0069},
        },
        "by_channel": by_channel,
        "series": {"leads": leads_series, "opened": opened_series},
        "previous_day": {"leads": 26310, "opened": 7012},
        "freshness_s": 1.2,
        "ingest_rate": 412.5, "reject_rate": 1.8,
        "context": sample_context(now, minutes),
        "alerts_read_ms": int(now.timestamp() * 1000) - 2_000,
    }


# Baseline conversions: step 6 (9,310 -> 6,420, 69.0 %) is 27 % below its usual 95 %: the one marked.
BASELINE = {1: 0.86, 2: 0.93, 3: 0.95, 4: 0.89, 5: 0.95, 6: 0.95, 7: 0.94, 8: 0.96, 9: 0.97, 10: 0.91}


def sample_context(now: datetime, minutes: list[str]) -> dict:
    """What layouts/context.py adds: same-time comparisons, the baseline, provinces, alerts."""
    cut = now.replace(second=0, microsecond=0)
    def window(days: int) -> dict:
        start = (cut - timedelta(days=days)).replace(hour=0, minute=0)
        return {"from": start.isoformat(), "to": (cut - timedelta(days=days)).isoformat()}
    return {
        "cut": cut.isoformat(),
        "compare": {
            "previous_day": {**window(1), "kpis": {"leads": 16000, "dial_rate": 0.81, "opened": 5200,
                                                   "open_rate": 0.325, "first_deposits": 2000,
                                                   "deposit_amount": "100000000.00", "net_inflow": "-5.00"}},
            "previous_week": {**window(7), "kpis": {"leads": 20000, "dial_rate": 0.9, "opened": 4987,
                                                    "open_rate": None, "first_deposits": 0,
                                                    "deposit_amount": "123456789.12", "net_inflow": "1.00"}},
        },
        "trend": {"previous_day": [[m, 40 + i % 7] for i, m in enumerate(minutes)],
                  "previous_week": [[m, 30 + i % 5] for i, m in enumerate(minutes)]},
        "baseline": {"days": 7, "min_reach": 20,
                     "steps": {str(k): {"median": v, "days": 7} for k, v in BASELINE.items()}},
        "assets": {"total": "8642000000.00",
                   "by_class": {"stock": "3600000000", "fund": "1850000000", "wealth": "1520000000",
                                "bond": "972000000", "cash": "700000000"},
                   "by_province": {"广东": "2100000000.00", "上海": "1800000000.00",
                                                             "云南": "400000000.00", "unknown": "9.00"},
                   "by_level": {"V0": "10.00", "V3": "5000000.00", "V7": "0.00"},
                   "by_segment": {"wealth": "7000000.00", "trading": "9000000.00"}},
        "alerts": [],
        "newest_ms": int(now.timestamp() * 1000) - 30_000,  # ClickHouse's newest event when computed
    }


# ---- i18n and formatters ----------------------------------------------------------------------------

def test_i18n_table_and_lang_parsing():
    assert t("kpi.leads", "zh") == "线索数" and t("kpi.leads", "en") == "Leads"
    assert t("fresh.delay", "zh", seconds="3") == "数据延迟 3 秒"
    assert t("no.such.key", "en") == "no.such.key"
    assert all(len(pair) == 2 and all(pair) for key, pair in STRINGS.items() if not key.startswith("unit."))
    assert lang_from_search("?lang=en") == "en"
    assert lang_from_search("?x=1&lang=EN") == "en"
    assert lang_from_search("?lang=fr") == "zh" and lang_from_search(None) == "zh"
    assert normalize_lang(None) == "zh" and normalize_lang("en") == "en"


def test_number_formatters():
    assert fmt_int(1234567) == "1,234,567" and fmt_int(None) == "—" and fmt_int("x") == "—"
    assert fmt_pct(0.375) == "37.5%" and fmt_pct(None) == "—" and fmt_pct(float("nan")) == "—"
    assert fmt_money("12345600", "zh") == "1,234.56 万"
    assert fmt_money("123456789.12", "zh") == "1.23 亿"
    assert fmt_money("9999.99", "zh") == "9,999.99"
    assert fmt_money("-12345.6", "zh") == "-1.23 万"
    assert fmt_money("12345600.5", "en") == "12,345,600.50"
    assert fmt_money(Decimal("0.004"), "zh") == "0.00"
    assert fmt_money(None) == "—" and fmt_money("abc") == "—" and fmt_money("NaN") == "—"
    assert money_parts("100000000", "zh") == ("1.00", "亿")
    assert fmt_day("2026-11-21", "zh") == "2026-11-21 星期六"
    assert fmt_day("2026-11-21", "en") == "2026-11-21 Sat"
    assert fmt_day(None) == "—"


def test_freshness_levels_and_snapshot_age():
    assert [freshness_level(s) for s in (0, 4.99, 5, 59.9, 60, None, -1)] == [
        "ok", "ok", "warn", "warn", "bad", "bad", "bad"]
    assert fmt_freshness(1.234, "zh") == "数据延迟 1.2 秒" and fmt_freshness(None, "en") == "Data delay —"
    now = datetime(2026, 11, 21, 10, 0, 30, tzinfo=TZ)
    snap = {"freshness_s": 2.0, "generated_at": "2026-11-21T10:00:00+08:00"}
    assert effective_freshness(snap, now) == pytest.approx(32.0)
    assert effective_freshness({**snap, "generated_at": "2026-11-21T10:00:29+08:00"}, now) == 2.0
    assert effective_freshness({"freshness_s": 2.0, "generated_at": "garbage"}, now) == 2.0
    assert effective_freshness({"generated_at": "2026-11-21T10:00:00+08:00"}, now) is None


# ---- figure builders --------------------------------------------------------------------------------

BUILDERS = (figures.funnel_figure, figures.channel_figure, trend.trend_figure, figures.asset_figure,
            figures.wealth_figure)
PARTIAL = (
    {},
    {"totals": None, "ratios": None, "by_channel": None, "context": None, "series": None},
    {"totals": {"reach": {}}, "ratios": {"step_conversion": {"1": None}}, "series": {"leads": []}},
    {"totals": {"reach": {"1": 0, "2": 0}}, "context": {"assets": {"by_class": {"stock": "0"}}},
     "by_channel": {}},
    {"series": {"leads": [["09:30"], "bad", [None, None]]}, "ratios": {"wealth_preference": {"stock": None}}},
)


@pytest.mark.parametrize("builder", BUILDERS, ids=lambda b: b.__name__)
@pytest.mark.parametrize("snapshot", PARTIAL)
def test_builders_render_empty_figures_for_missing_data(builder, snapshot):
    for lang in ("zh", "en"):
        fig = builder(snapshot, lang)
        assert isinstance(fig, go.Figure)
        assert not fig.data
        assert [a.text for a in fig.layout.annotations] == [t("fig.empty", lang)]
        pio.to_json(fig)


@pytest.mark.parametrize("builder", BUILDERS, ids=lambda b: b.__name__)
def test_builders_render_sample_with_dark_template(builder):
    fig = builder(sample_snapshot(), "zh")
    assert fig.data
    assert fig.layout.template.layout.paper_bgcolor == "rgba(0,0,0,0)"
    assert "Noto Sans CJK SC" in fig.layout.template.layout.font.family
    pio.to_json(fig)


def test_funnel_marks_breakpoints_below_their_own_baseline_not_the_lowest():
    snap = sample_snapshot()
    fig = figures.funnel_figure(snap, "zh")
    assert list(fig.data[0].y) == list(REACH)
    texts = [a.text for a in fig.layout.annotations]
    assert f"▼ {fmt_pct(REACH[6] / REACH[5])}" in texts  # 6 -> 7 is 27 % below its usual 95 %
    assert sum(text.startswith("▼") for text in texts) == 1
    assert sum(text.startswith(("→", "▼")) for text in texts) == 10
    assert "低于基线 27%" in texts
    judged = compare.breakpoints(snap)
    assert compare.marked(judged) == {6: "warn"}
    assert judged[6]["below"] == pytest.approx(1 - (6420 / 9310) / 0.95)
    # the lowest conversion at its usual level is not marked; a higher one far below its own is
    usual = copy.deepcopy(snap)
    usual["context"]["baseline"]["steps"]["6"]["median"] = 0.70
    usual["context"]["baseline"]["steps"]["1"]["median"] = 0.99 / 0.75
    assert compare.marked(compare.breakpoints(usual)) == {1: "warn"}
    # a severe drop is "bad"; too few leads today, or too few baseline days, is not judged at all
    severe = copy.deepcopy(snap)
    severe["ratios"]["step_conversion"]["6"] = 0.5
    assert compare.marked(compare.breakpoints(severe))[6] == "bad"
    few = copy.deepcopy(snap)
    few["totals"]["reach"]["6"] = 19
    assert 6 not in compare.breakpoints(few)
    thin = copy.deepcopy(snap)
    thin["context"]["baseline"]["steps"]["6"]["days"] = 2
    assert 6 not in compare.breakpoints(thin)
    # no context (no ClickHouse behind the app): nothing is marked, nothing is made up
    assert compare.breakpoints({k: v for k, v in snap.items() if k != "context"}) == {}
    # yesterday's context just after midnight does not judge today
    stale = {**snap, "context": {**snap["context"], "cut": "1999-01-01T23:59:00+08:00"}}
    assert compare.breakpoints(stale) == {}


def test_channel_bars_use_catalogue_labels_most_leads_first():
    fig = figures.channel_figure(sample_snapshot(), "zh")
    assert list(fig.data[0].y)[:3] == ["抖音", "应用市场", "微信生态"]
    assert next(iter(fig.data[0].x)) == 4820
    # the leaderboard's columns beside the bars: dial rate · opened · open rate, per channel
    side = {note.y: re.sub(r"<[^>]+>", "", note.text) for note in fig.layout.annotations if note.yref == "y"}
    assert side["抖音"] == "83.0% · 1,210 · 25.1%"
    unknown = figures.channel_figure({"by_channel": {"new_code": {"leads": 3}}}, "en")
    assert list(unknown.data[0].y) == ["new_code"]
    assert len(CHANNELS) == len(sample_snapshot()["by_channel"])


def test_trend_asset_and_wealth_figures():
    snap = sample_snapshot(datetime.now(TZ).replace(hour=14, minute=35))
    fig = trend.trend_figure(snap, "en")
    assert [trace.name for trace in fig.data] == ["Last week", "Yesterday", "Today", "minute in progress"]
    assert fig.data[0].x[0] == f"{snap['day']} 09:00" and list(fig.data[1].y[:2]) == [40, 41]
    assert fig.data[2].x[0] == f"{snap['day']} 00:00" and fig.data[2].y[0] == 0  # zeros filled in
    assert fig.data[2].x[-1] == f"{snap['day']} 14:34" and len(fig.data[2].x) == 14 * 60 + 35
    donut = figures.asset_figure(snap, "zh")
    labels = [label.split()[0] for label in donut.data[0].labels]
    assert labels == ["股票", "基金", "理财产品", "债券", "现金"]
    assert donut.data[0].labels[0] == "股票  36.00 亿"
    assert "86.42 亿" in donut.layout.annotations[0].text
    wealth = figures.wealth_figure(snap, "en")
    assert next(iter(wealth.data[0].y)) == "stocks" and next(iter(wealth.data[0].text)) == "55.5%"


# ---- page views -------------------------------------------------------------------------------------

def _ids(component) -> dict:
    found = {getattr(component, "id", None): component}
    for child in component._traverse():
        key = getattr(child, "id", None)
        found[str(key) if isinstance(key, dict) else key] = child
    return found


def test_render_fills_every_output_and_survives_an_empty_snapshot():
    now = datetime.now(TZ)
    for snapshot in (sample_snapshot(now), {}, None):
        outputs = wall.render(snapshot, "zh", now)
        assert len(outputs) == len(wall._OUTPUTS)
    outputs = wall.render(sample_snapshot(now), "zh", now)
    by_output = dict(zip(wall._OUTPUTS, outputs, strict=True))
    assert by_output[("kpi-leads", "children")] == ["18,642"]
    assert by_output[("kpi-leads", "data-value")] == "18642"
    assert by_output[("kpi-deposit_amount", "data-value")] == "123456789.12"
    assert "pos" in by_output[("kpi-net_inflow", "className")]
    assert by_output[("kpi-hint-leads", "children")].startswith("昨日全天 26,310")
    assert outputs[-2] == "fresh fresh-ok" and outputs[-1] == int(now.timestamp() * 1000)
    down = wall.render({"error": "live store unreachable"}, "zh", now)
    # the numbers stay; the session badge, the freshness badge and the tick move
    assert all(value is no_update for value in down[:-5]) and down[-2] == "fresh fresh-bad"
    assert down[-4].startswith("session session-")
    assert down[-3][1].children == "数据源异常" and down[-1] == int(now.timestamp() * 1000)
    empty = wall.render({}, "en", now)
    assert empty[0] == ["—"] and empty[1] == "" and empty[-2] == "fresh fresh-bad"


def test_rebuilding_live_store_shows_no_numbers_as_if_right():
    now = datetime.now(TZ)
    out = wall.render({**sample_snapshot(now), "live_state": {"state": "rebuilding"}}, "zh", now)
    assert all(value is no_update for value in out[:-5])
    assert out[-3][1].children == "实时数据重建中" and "fresh-rebuilding" in out[-2]
    ok = wall.render({**sample_snapshot(now), "live_state": {"state": "ok"}}, "en", now)
    assert ok[0] == ["18,642"]
    steps = wall.funnel_steps(sample_snapshot(now), "zh")
    assert [item.children[2].id for item in steps] == [f"reach-{k}" for k in STEPS]
    assert [item.children[2].children for item in steps][:2] == ["15,230", "12,874"]


def test_layout_carries_every_id_in_both_languages():
    for lang in ("zh", "en"):
        found = _ids(wall.layout(lang=lang, refresh_ms=750))
        for key in wall.KPI_KEYS:
            assert f"kpi-{key}" in found
        for k in STEPS:
            assert f"reach-{k}" in found
        assert found[wall.ID_INTERVAL].interval == 750
    assert "互联网分公司 · 业务指挥中心" in str(wall.layout("zh").to_plotly_json())


def test_create_app_routes_assets_and_extra_setup():
    seen = []
    app = create_app(Settings(refresh_ms=1500), lambda: {}, extra_setup=seen.append)
    assert seen == [app]
    client = app.server.test_client()
    page = client.get("/")
    assert page.status_code == 200 and APP_TITLE in page.get_data(as_text=True)
    assert "wall.css" in page.get_data(as_text=True)
    assert client.get("/assets/wall.css").status_code == 200
    assert "//cdn" not in page.get_data(as_text=True).replace("\\/", "/")


# ---- trading session, links, sub-screens -----------------------------------------------------------

@pytest.mark.parametrize(("clock", "phase", "business"), [
    ("02:30", "night", False), ("08:29", "night", False), ("08:30", "closed", True),
    ("09:14", "closed", True), ("09:15", "pre_open", True), ("09:29", "pre_open", True),
    ("09:30", "trading", True), ("11:29", "trading", True), ("11:30", "lunch", True),
    ("12:59", "lunch", True), ("13:00", "trading", True), ("14:59", "trading", True),
    ("15:00", "closed", True), ("19:59", "closed", True), ("20:00", "night", False),
    ("23:59", "night", False),
])
def test_session_of_a_weekday(clock, phase, business):
    hour, minute = map(int, clock.split(":"))
    moment = datetime(2026, 11, 23, hour, minute, tzinfo=TZ)  # a Monday
    assert session_at(moment) == Session(phase, business, weekend=False)


def test_session_on_weekends_and_in_other_time_zones():
    saturday_ten = datetime(2026, 11, 21, 10, 0, tzinfo=TZ)
    assert session_at(saturday_ten) == Session("closed", True, weekend=True)
    assert session_at(datetime(2026, 11, 21, 22, 0, tzinfo=TZ)).phase == "night"
    # 01:45 UTC is 09:45 in Shanghai: trading, whatever zone the instant is given in
    assert session_at(datetime(2026, 11, 23, 1, 45, tzinfo=UTC)).phase == "trading"
    assert session_at(datetime(2026, 11, 23, 9, 20)).phase == "pre_open"  # naive = Shanghai time
    children, css = session_badge(datetime(2026, 11, 23, 2, 30, tzinfo=TZ), "zh")
    assert css == "session session-night" and children[-1].children == "非营业时间"
    children, css = session_badge(saturday_ten, "en")
    assert css == "session session-closed" and children[-1].children == "weekend"
    assert len(session_badge(datetime(2026, 11, 23, 10, 0, tzinfo=TZ), "en")[0]) == 2


def test_links_keep_the_query_string():
    assert with_params("/", "?kiosk=1&fit=width&lang=zh", lang="en") == "/?kiosk=1&fit=width&lang=en"
    assert with_params("/screen/funnel", "", lang="en") == "/screen/funnel?lang=en"
    assert with_params("/", "?kiosk=1", kiosk=None) == "/"
    nav = screen_nav("funnel", "en", "?fit=width", base="/ecc/")
    hrefs = {link.id: link.href for link in nav.children}
    assert hrefs["nav-wall"] == "/ecc/?fit=width" and hrefs["nav-funnel"] == "/ecc/screen/funnel?fit=width"
    assert [link.className for link in nav.children].count("screen-tab active") == 1


def test_short_step_labels_fit_the_strip():
    assert short_step_label(6, "en") == "Suitability & sign"
    assert short_step_label(6, "zh") == "适当性匹配与协议签署"
    assert all(len(short_step_label(k, "en")) <= 18 for k in STEPS)


def test_turnover_and_sub_screen_views():
    snap = sample_snapshot()
    trades = sum(Decimal(v) for v in snap["totals"]["trade_amount"].values())
    aum = Decimal(snap["context"]["assets"]["total"])
    assert money_views.turnover_rate(snap) == pytest.approx(float(trades / aum))
    assert money_views.turnover_rate({"context": {"assets": {"total": "0.00"}}}) is None
    assert money_views.turnover_rate({}) is None
    table = screens.leaderboard(snap, "zh")
    first = table.children[1].children[0].children
    assert first[0].children[1] == "抖音" and first[1].children == "4,820"
    assert [td.children for td in first[2:]] == ["83.0%", "1,210", fmt_pct(1210 / 4820)]
    empty = screens.leaderboard({}, "en").children[1].children[0]
    assert empty.children.children == "No data yet"
    reject = figures.reject_figure(snap, "zh")
    assert list(reject.data[0].x) == [snap["ratios"]["reject_rate"][k] for k in ("2", "5", "7", "8", "10")]


def test_sub_screen_render_fills_only_the_widgets_present():
    now = datetime(2026, 11, 23, 10, 0, tzinfo=TZ)
    figs = [{"type": screens.FIG, "name": "funnel"}, {"type": screens.FIG, "name": "rejects"}]
    htmls = [{"type": screens.HTML, "name": "leaderboard"}, {"type": screens.HTML, "name": "funnel-steps"}]
    kpis = [{"type": screens.KPI_VALUE, "name": "leads"}, {"type": screens.KPI_VALUE, "name": "net_inflow"}]
    out = screens.render(sample_snapshot(now), "en", now, figs, htmls, kpis)
    assert out[0] == "2026-11-23 Mon" and len(out) == 10 + len(wall.KPI_PROPS) + 2
    assert out[3] == "session session-trading" and out[5] == "fresh fresh-ok"
    fig_out, html_out, values, raws, classes, _styles, hints, compared = out[8:]
    shifts = [item.to_plotly_json()["props"]["data-shift"] for item in compared[0]]
    assert shifts == ["previous_day", "previous_week"]
    assert len(fig_out) == 2 and fig_out[0].data and len(html_out) == 2
    assert values == [["18,642"], ["100,000,000.12"]] and raws == ["18642", "100000000.12"]
    assert classes == ["kpi-value", "kpi-value pos"] and hints[1] == "Deposits − withdrawals"
    down = screens.render({"error": "x"}, "en", now, figs, htmls, kpis)
    assert down[8] == [no_update, no_update] and down[-1] == [no_update, no_update]
    assert down[5] == "fresh fresh-bad" and down[6] == int(now.timestamp() * 1000)
    building = screens.render({"live_state": {"state": "rebuilding"}}, "zh", now, figs, [])
    assert "fresh-rebuilding" in building[5] and building[9] == [] and building[-1] == []


def test_every_sub_screen_lays_out_in_both_languages():
    for name in screens.SCREEN_LAYOUTS:
        for lang in ("zh", "en"):
            page = screens.layout(name, lang=lang, search="?kiosk=1")
            found = _ids(page)
            assert screens.HEADER.interval in found and screens.HEADER.freshness in found
            text = str(page.to_plotly_json())
            assert t(f"screen.{name}.title", lang) in text
    assert "暂无告警" in str(screens.layout("alerts", "zh").to_plotly_json())


def test_app_routes_every_screen():
    app = create_app(Settings(refresh_ms=1000), lambda: {})
    client = app.server.test_client()
    for path in ("/", "/screen/acquisition", "/screen/funnel", "/screen/assets", "/screen/service",
                 "/screen/alerts"):
        assert client.get(path).status_code == 200, path
    for asset in ("fit.js", "kiosk.js", "watermark.js", "wall.css"):
        assert client.get(f"/assets/{asset}").status_code == 200
    css = client.get("/assets/wall.css").get_data(as_text=True)
    assert not re.search(r"(^|[;{\s])zoom\s*:", css)  # CSS zoom misplaces Plotly's hover: scale instead


def test_trend_draws_the_current_minute_apart_as_partial():
    now = datetime(2026, 11, 23, 10, 15, 20, tzinfo=TZ)
    snap = {"day": "2026-11-23", "generated_at": now.isoformat(),
            "series": {"leads": [["10:12", 7], ["10:14", 42], ["10:15", 3]], "opened": [["10:12", 5]]}}
    fig = trend.trend_figure(snap, "en")
    week, day, leads, tail = fig.data
    assert not week.x and not day.x  # no context: no comparison lines, no made-up ones
    assert list(leads.x[-3:]) == ["2026-11-23 10:12", "2026-11-23 10:13", "2026-11-23 10:14"]
    assert list(leads.y[-3:]) == [7, 0, 42] and len(leads.x) == 10 * 60 + 15  # every complete minute
    assert list(tail.x) == ["2026-11-23 10:14", "2026-11-23 10:15"] and list(tail.y) == [42, 3]
    assert tail.line.dash == "dot" and tail.showlegend is False and "in progress" in tail.hovertemplate
    assert "yaxis2" not in fig.layout.to_plotly_json()  # one axis: no empty right-hand scale
    yesterday = {**snap, "day": "2026-11-22"}  # a snapshot of another day has no minute in progress
    assert list(trend.trend_figure(yesterday, "en").data[2].y) == [7, 42, 3]
    assert not trend.trend_figure({**snap, "generated_at": "garbage"}, "en").data[3].x


def test_views_of_one_snapshot_are_built_once_for_every_screen():
    now = datetime(2026, 11, 23, 10, 15, 20, tzinfo=TZ)
    snap = sample_snapshot(now)
    memo = ViewMemo()
    first = wall.render(snap, "zh", now, memo)
    as_json = lambda outputs: json.dumps(outputs, cls=PlotlyJSONEncoder)  # noqa: E731
    assert as_json(first) == as_json(wall.render(snap, "zh", now))  # the memo changes no output
    later = {**snap, "generated_at": now.replace(second=50).isoformat(), "freshness_s": 9.0,
             "ingest_rate": 1.0}
    again = wall.render(later, "zh", now, memo)
    # the views' versions, the body, its six costly views, the whole trend (a fresh page: no delta yet)
    # and the trend's answer to this browser's state once each; `later` moved only the header
    assert (memo.hits, memo.misses) == (3, 10)
    assert again[: len(first) - 9] == first[: len(first) - 9]  # the same card and figure objects
    assert again[-2] == "fresh fresh-warn"  # the header is not memoized: 9 s is read afresh
    changed = copy.deepcopy(later)
    changed["totals"]["leads"] = 1
    lead_changed = wall.render(changed, "zh", now, memo)
    assert lead_changed[0] == ["1"] and memo.misses == 14  # a new body and trend; no figure rebuilt:
    funnel_at = wall._OUTPUTS.index((wall.ID_FUNNEL_GRAPH, "figure"))  # the leads feed none of them
    assert lead_changed[funnel_at] is first[funnel_at]
    next_minute = {**snap, "generated_at": now.replace(minute=16).isoformat()}
    wall.render(next_minute, "zh", now, memo)  # the trend's minute in progress moved
    wall.render(snap, "en", now, memo)
    assert memo.misses == 28
    assert digest(snap) == digest({**snap, "freshness_s": 0.1}) != digest(next_minute)
    figs = [{"type": screens.FIG, "name": "funnel"}]
    kpis = [{"type": screens.KPI_VALUE, "name": "leads"}]
    one = screens.render(snap, "zh", now, figs, [], kpis, memo)
    two = screens.render(later, "zh", now, figs, [], kpis, memo)
    assert one[8][0] is two[8][0] and two[10] == [["18,642"]]


def test_responses_are_compressed_for_browsers_that_accept_it(settings):
    # A wall refresh is ~38 KiB of JSON every second per screen; compressed it is a few KiB.
    app = create_app(settings, lambda: {})
    client = app.server.test_client()
    page = client.get("/", headers={"Accept-Encoding": "gzip"})
    assert page.status_code == 200 and page.headers.get("Content-Encoding") == "gzip"
    plain = client.get("/", headers={"Accept-Encoding": "identity"})
    assert "Content-Encoding" not in plain.headers and b"<html" in plain.data.lower()


def test_kpi_change_against_the_same_time_yesterday_and_last_week():
    snap = sample_snapshot(datetime.now(TZ).replace(hour=11))
    leads = compare.kpi_compare("leads", snap, "zh")
    texts = [str(item.to_plotly_json()) for item in leads]
    assert "▲16.5%" in texts[0] and "▼6.8%" in texts[1]  # 18,642 against 16,000 and 20,000
    assert leads[0].to_plotly_json()["props"]["data-base"] == "16000"
    dial = compare.change("dial_rate", 15473 / 18642, 0.81)
    assert dial[1] == "pp" and dial[0] == pytest.approx((15473 / 18642 - 0.81) * 100)
    assert compare.fmt_change(None, "%") == ("—", "flat")
    assert compare.change("open_rate", 0.3, None)[0] is None  # last week's ratio was null: "—"
    assert compare.change("first_deposits", 5, 0)[0] is None  # from 0: no "+∞ %"
    assert compare.change("net_inflow", "10.00", "-5.00")[0] is None  # a negative base: no ratio
    assert compare.change("deposit_amount", "150.00", "100.00")[0] == pytest.approx(0.5)
    assert compare.fmt_change(-0.25, "%") == ("▼25.0%", "down")
    assert compare.fmt_change(1.24, "pp") == ("▲1.2pp", "up")
    assert compare.fmt_change(99999.0, "%") == ("▲>999%", "up")
    bare = {k: v for k, v in snap.items() if k != "context"}
    assert "—" in str(compare.kpi_compare("leads", bare, "en")[0].to_plotly_json())


def test_night_zeroes_are_explained_not_alarming():
    night = sample_snapshot(datetime(2026, 11, 23, 2, 30, tzinfo=TZ))
    night["totals"]["first_deposits"] = 0
    assert kpi_cards.kpi_hint("first_deposits", night, "zh") == t("hint.night_zero", "zh")
    assert kpi_cards.kpi_hint("leads", night, "zh") != t("hint.night_zero", "zh")  # not zero: its own hint
    day = sample_snapshot(datetime(2026, 11, 23, 10, 30, tzinfo=TZ))
    day["totals"]["first_deposits"] = 0
    assert kpi_cards.kpi_hint("first_deposits", day, "zh") != t("hint.night_zero", "zh")


def test_alert_banner_ticker_and_list():
    snap = sample_snapshot()
    firing = {"id": 7, "kind": "step_conversion_drop", "channel": "douyin", "step": 5, "state": "firing",
              "started_at": "2026-11-23T10:05:00+08:00", "observed": 0.12, "baseline": 0.3,
              "silenced": False}
    resolved = {**firing, "id": 3, "state": "resolved", "kind": "lead_volume_drop", "step": None,
                "observed": 40, "baseline": 120.4}
    snap["context"]["alerts"] = [firing, resolved]
    children, css = alerts_view.banner(snap, "zh")
    assert css == "alert-strip strip-firing"
    text = str(children[0].to_plotly_json())
    assert "断点转化率下降 · 抖音 · 步骤 5 · 观测 12.0% · 基线 30.0%" in text and "10:05" in text
    snap["context"]["alerts"] = [resolved]
    children, css = alerts_view.banner(snap, "en")
    assert css == "alert-strip strip-recent"
    assert "observed 40 · baseline 120" in str(children[0].to_plotly_json())
    rows = alerts_view.alert_list(snap, "en")[0]
    assert rows.children[0].className == "alert-row alert-resolved"
    assert isinstance(rows.children[0].children[2], html.Span)  # no link: plain text
    stale = {"id": 9, "kind": "no_data", "channel": None, "step": None, "state": "firing",
             "started_at": "2026-11-23T10:05:00+08:00", "observed": 131.5, "baseline": 120.0,
             "silenced": False}
    snap["context"]["alerts"] = [stale]  # a no_data alert's numbers: the newest event's age and the limit
    shown = str(alerts_view.banner(snap, "zh")[0][0].to_plotly_json())
    assert "数据中断 · 最新事件 132 秒前 · 阈值 120 秒" in shown
    snap["context"]["alerts"] = [{**resolved, "link": "/drill?channel=douyin&step=5"}]
    linked = alerts_view.alert_list(snap, "en")[0].children[0].children[2]
    assert isinstance(linked, html.A) and linked.href == "/drill?channel=douyin&step=5"
    snap["context"]["alerts"] = []
    assert alerts_view.banner(snap, "zh")[1] == "alert-strip strip-quiet"
    assert "暂无告警" in str(alerts_view.alert_list(snap, "zh")[0].to_plotly_json())
    snap["context"]["alerts"] = None  # the alerts module is not there: said so
    assert t("alerts.unavailable", "zh") in str(alerts_view.banner(snap, "zh")[0][0].to_plotly_json())


def test_trend_delta_extends_lines_and_redraws_only_on_change():
    now = datetime(2026, 11, 23, 10, 15, 20, tzinfo=TZ)
    snap = sample_snapshot(now)
    fig = trend.trend_figure(snap, "zh")
    first, delta, state = trend.trend_update(snap, "zh", None, lambda: fig)
    assert first is fig and delta is None and state["n"][2] == 10 * 60 + 15
    same, delta, state2 = trend.trend_update(snap, "zh", state, lambda: fig)
    assert same is None and state2 == state
    assert delta["from"] == state["n"] and delta["x"] == [[], [], []] and delta["y"] == [[], [], []]
    assert len(delta["tail"][0]) == len(fig.data[3].x)  # only the tail: nothing new
    later = copy.deepcopy(snap)
    later["generated_at"] = now.replace(minute=17).isoformat()
    later["series"]["leads"].append(["10:16", 9])
    none, delta, state3 = trend.trend_update(later, "zh", state, lambda: fig)
    assert none is None and delta["from"] == state["n"]
    assert len(delta["y"][2]) == 2 and delta["y"][2][-1] == 9  # 10:15 completed, 10:16 counted
    assert state3["n"][2] == state["n"][2] + 2
    assert json.loads(json.dumps(delta)) == delta  # plain data for a store, not a Dash Patch
    corrected = copy.deepcopy(later)
    corrected["series"]["leads"][0][1] += 1  # a late event changed a minute already drawn
    assert trend.trend_update(corrected, "zh", state3, lambda: fig)[:2] == (fig, None)
    assert trend.trend_update(later, "en", state3, lambda: fig)[:2] == (fig, None)  # language


def test_context_windows_baseline_and_series_pairs():
    cut = context.minute_cut(datetime(2026, 11, 23, 10, 15, 59, tzinfo=TZ))
    assert cut.isoformat() == "2026-11-23T10:15:00+08:00"
    assert context.baseline_cut(cut).minute == 15
    assert context.baseline_cut(cut.replace(minute=19)).minute == 15
    start, end = context.shifted_window(cut, 7)
    assert start.isoformat() == "2026-11-16T00:00:00+08:00" and end.isoformat() == "2026-11-16T10:15:00+08:00"
    days = [{"reach": {"1": 30}, "step_conversion": {"1": v}} for v in (0.5, 0.7, 0.9)]
    days.append({"reach": {"1": 5}, "step_conversion": {"1": 0.0}})  # too few leads: left out
    base = context.funnel_baseline(days, 20)
    assert base["1"] == {"median": 0.7, "days": 3} and base["2"] == {"median": None, "days": 0}
    pairs = context.series_pairs([{"t": "2026-11-23T10:14:00.000+08:00", "value": 4}])
    assert pairs == [["10:14", 4]]


def test_province_ranking_largest_first_without_unknown():
    snap = sample_snapshot()
    assert [name for name, _ in provinces.province_rows(snap)] == ["广东", "上海", "云南"]
    fig = provinces.province_figure(snap, "en")
    assert list(fig.data[0].y) == ["Guangdong", "Shanghai", "Yunnan"]  # the English wall, in English
    assert next(iter(fig.data[0].text)) == "2,100.0 M"
    assert list(provinces.province_figure(snap, "zh").data[0].y) == ["广东", "上海", "云南"]
    assert next(iter(provinces.province_figure(snap, "zh").data[0].text)) == "21.00 亿"
    assert not provinces.province_figure({k: v for k, v in snap.items() if k != "context"}, "zh").data


def test_views_the_browser_already_shows_are_not_sent_again():
    """The browser sends back the versions it shows (ID_DRAWN); an unchanged figure is no_update, a
    changed one is sent, and a fresh page (no versions) gets everything."""
    now = datetime(2026, 11, 23, 10, 15, 20, tzinfo=TZ)
    snap = sample_snapshot(now)
    at = {output: i for i, output in enumerate(wall._OUTPUTS)}
    funnel, channels = at[(wall.ID_FUNNEL_GRAPH, "figure")], at[(wall.ID_CHANNEL_GRAPH, "figure")]
    first = wall.render(snap, "zh", now, ViewMemo())
    drawn = first[at[(wall.ID_DRAWN, "data")]]
    assert first[funnel] is not no_update and set(drawn) == set(wall._VIEW_OUTPUTS)
    changed = copy.deepcopy(snap)
    changed["totals"]["leads"] = 1  # feeds a card, no figure
    again = wall.render(changed, "zh", now, ViewMemo(), drawn=drawn)
    assert again[at[("kpi-leads", "children")]] == ["1"]
    views = [output for outputs in wall._VIEW_OUTPUTS.values() for output in outputs]
    assert all(again[at[output]] is no_update for output in views)
    changed["totals"]["reach"]["3"] += 5  # feeds the funnel only
    third = wall.render(changed, "zh", now, ViewMemo(), drawn=drawn)
    assert third[funnel] is not no_update and third[channels] is no_update
    assert wall.render(changed, "en", now, ViewMemo(), drawn=drawn)[channels] is not no_update  # language
    assert wall.render(changed, "zh", now, ViewMemo(), drawn=None)[channels] is not no_update  # fresh page


def test_aum_by_segment_and_level_in_the_contract_order():
    from layouts.provinces import tier_figure, tier_rows

    snap = sample_snapshot()
    assert [name for name, _ in tier_rows(snap, "zh")] == ["交易型", "理财型", "V3", "V0"]  # no zero rows
    assert [name for name, _ in tier_rows(snap, "en")][:2] == ["trading", "wealth"]
    bar = tier_figure(snap, "zh").data[0]
    assert list(bar.x) == [9000000.0, 7000000.0, 5000000.0, 10.0] and bar.customdata[0] == "900.00 万"
    assert not tier_figure({}, "zh").data  # no assets yet: the placeholder
