"""The wall screen: pure figure builders and formatters, then one real browser against the Dash app."""

from __future__ import annotations

import copy
import math
import re
import threading
import time
from datetime import datetime, timedelta
from decimal import Decimal

import plotly.graph_objects as go
import plotly.io as pio
import pytest
from dash import no_update

from ecc.catalogue import CHANNELS, STEPS
from ecc.config import Settings
from ecc.timeutil import TZ
from layouts import figures, wall
from layouts.app import APP_TITLE, create_app
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
from layouts.i18n import STRINGS, lang_from_search, normalize_lang, t

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
        "aum": {"total": "8642000000.00", "by_class": {"stock": "3600000000", "fund": "1850000000",
                                                       "wealth": "1520000000", "bond": "972000000",
                                                       "cash": "700000000"}},
        "series": {"leads": leads_series, "opened": opened_series},
        "previous_day": {"leads": 26310, "opened": 7012},
        "freshness_s": 1.2,
        "ingest_rate": 412.5, "reject_rate": 1.8,
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

BUILDERS = (figures.funnel_figure, figures.channel_figure, figures.trend_figure, figures.asset_figure,
            figures.wealth_figure)
PARTIAL = (
    {},
    {"totals": None, "ratios": None, "by_channel": None, "aum": None, "series": None},
    {"totals": {"reach": {}}, "ratios": {"step_conversion": {"1": None}}, "series": {"leads": []}},
    {"totals": {"reach": {"1": 0, "2": 0}}, "aum": {"by_class": {"stock": "0"}}, "by_channel": {}},
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


def test_funnel_marks_conversions_and_the_weakest_breakpoint():
    snap = sample_snapshot()
    fig = figures.funnel_figure(snap, "zh")
    assert list(fig.data[0].y) == list(REACH)
    texts = [a.text for a in fig.layout.annotations]
    weakest = figures.weakest_breakpoint(figures.funnel_conversions(snap))
    assert weakest == 6  # 9,310 -> 6,420: binding the depository account
    assert f"▼ {fmt_pct(REACH[6] / REACH[5])}" in texts
    assert sum(text.startswith(("→", "▼")) for text in texts) == 10
    assert "最弱断点" in texts
    assert figures.weakest_breakpoint([None, None]) is None
    assert figures.weakest_breakpoint([0.9, None, 0.5, 0.5]) == 3


def test_channel_bars_use_catalogue_labels_most_leads_first():
    fig = figures.channel_figure(sample_snapshot(), "zh")
    assert list(fig.data[0].y)[:3] == ["抖音", "应用市场", "微信生态"]
    assert next(iter(fig.data[0].x)) == 4820
    unknown = figures.channel_figure({"by_channel": {"new_code": {"leads": 3}}}, "en")
    assert list(unknown.data[0].y) == ["new_code"]
    assert len(CHANNELS) == len(sample_snapshot()["by_channel"])


def test_trend_asset_and_wealth_figures():
    snap = sample_snapshot()
    trend = figures.trend_figure(snap, "en")
    assert [trace.name for trace in trend.data] == ["Leads", "Opened"]
    assert trend.data[0].x[0] == f"{snap['day']} 09:00"
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
        found[getattr(child, "id", None)] = child
    return found


def test_render_fills_every_output_and_survives_an_empty_snapshot():
    now = datetime.now(TZ)
    for snapshot in (sample_snapshot(now), {}, None):
        outputs = wall.render(snapshot, "zh", now)
        assert len(outputs) == len(wall._OUTPUTS)
    outputs = wall.render(sample_snapshot(now), "zh", now)
    cards = dict(zip(wall.KPI_KEYS, outputs[: len(wall.KPI_KEYS)], strict=True))
    assert cards["leads"][1].id == "kpi-leads" and cards["leads"][1].children == ["18,642"]
    assert cards["deposit_amount"][1].to_plotly_json()["props"]["data-value"] == "123456789.12"
    assert "pos" in cards["net_inflow"][1].className
    assert outputs[-2] == "fresh fresh-ok" and outputs[-1] == int(now.timestamp() * 1000)
    down = wall.render({"error": "live store unreachable"}, "zh", now)
    # the numbers stay; the session badge, the freshness badge and the tick move
    assert all(value is no_update for value in down[:-5]) and down[-2] == "fresh fresh-bad"
    assert down[-4].startswith("session session-")
    assert down[-3][1].children == "数据源异常" and down[-1] == int(now.timestamp() * 1000)
    empty = wall.render({}, "en", now)
    assert empty[0][1].children == ["—"] and empty[-2] == "fresh fresh-bad"


def test_rebuilding_live_store_shows_no_numbers_as_if_right():
    now = datetime.now(TZ)
    out = wall.render({**sample_snapshot(now), "live_state": {"state": "rebuilding"}}, "zh", now)
    assert all(value is no_update for value in out[:-5])
    assert out[-3][1].children == "实时数据重建中" and "fresh-rebuilding" in out[-2]
    ok = wall.render({**sample_snapshot(now), "live_state": {"state": "ok"}}, "en", now)
    assert ok[0][1].children == ["18,642"]
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


# ---- one real browser -------------------------------------------------------------------------------

CLOCK_PATTERN = re.compile(r"^\d{2}:\d{2}:\d{2}$")
BROWSER_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.fixture
def live_wall():
    from werkzeug.serving import make_server

    state = {"snapshot": sample_snapshot(), "fail": False}

    def provider():  # like the worker, which rewrites the snapshot every tick
        if state["fail"] == "raise":
            raise ConnectionError("redis is down")
        if state["fail"] == "error":
            return {"error": "live store unreachable: redis is down"}
        return {**state["snapshot"], "generated_at": datetime.now(TZ).isoformat()}

    app = create_app(Settings(refresh_ms=500), provider)
    server = make_server("127.0.0.1", 0, app.server, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/", state
    finally:
        server.shutdown()
        thread.join(5)


def _wait_for_charts(page, expect) -> None:
    """Every chart drawn with its data (not the empty placeholder) before a screenshot."""
    for selector in ("#wall-funnel-graph .bars path", "#wall-channel-graph .bars path",
                     "#wall-trend-graph .scatterlayer .trace", "#wall-asset-graph .slice",
                     "#wall-wealth-graph .bars path"):
        expect(page.locator(selector).first).to_be_attached(timeout=5000)
    page.wait_for_timeout(500)  # plotly's last layout pass


@pytest.mark.browser
def test_wall_in_a_real_browser(live_wall):
    from playwright.sync_api import expect, sync_playwright

    url, state = live_wall
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=BROWSER_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1920, "height": 1080})
            errors: list[str] = []
            page.on("pageerror", lambda error: errors.append(str(error)))
            page.goto(url)
            expect(page.locator("#kpi-leads")).to_have_attribute("data-value", "18642", timeout=15000)
            expect(page.locator(".header-title h1")).to_have_text("互联网分公司 · 业务指挥中心")
            expect(page.locator("#kpi-card-leads .kpi-label")).to_have_text("线索数")
            expect(page.locator("#kpi-leads")).to_have_text("18,642")
            expect(page.locator("#kpi-opened")).to_have_text("4,987")
            expect(page.locator("#kpi-first_deposits")).to_have_text("2,031")
            expect(page.locator("#kpi-dial_rate")).to_have_text("83.0%")
            expect(page.locator("#kpi-open_rate")).to_have_text("26.8%")
            expect(page.locator("#kpi-deposit_amount")).to_have_text("1.23 亿")
            expect(page.locator("#kpi-net_inflow")).to_have_text("1.00 亿")
            for k, value in zip(STEPS, REACH, strict=True):
                expect(page.locator(f"#reach-{k}")).to_have_attribute("data-value", str(value))
                expect(page.locator(f"#reach-{k}")).to_have_text(f"{value:,}")
            expect(page.locator("#wall-freshness")).to_have_class("fresh fresh-ok")
            expect(page.locator("#wall-clock")).to_have_text(CLOCK_PATTERN)
            _wait_for_charts(page, expect)
            page.screenshot(path="/tmp/wall.png")

            changed = copy.deepcopy(state["snapshot"])
            changed["totals"]["leads"] = 18777
            changed["totals"]["reach"]["3"] = 12001
            changed["totals"]["net_inflow"] = "-5000000.00"
            state["snapshot"] = changed
            expect(page.locator("#kpi-leads")).to_have_text("18,777", timeout=3000)
            expect(page.locator("#reach-3")).to_have_attribute("data-value", "12001", timeout=3000)
            expect(page.locator("#kpi-net_inflow")).to_have_text("-500.00 万", timeout=3000)

            for failure in ("raise", "error"):  # the provider raises, or says so as layouts.server does
                state["fail"] = failure
                expect(page.locator("#wall-freshness")).to_have_text("数据源异常", timeout=3000)
                expect(page.locator("#kpi-leads")).to_have_text("18,777")  # the last numbers stay up
                state["fail"] = False
                expect(page.locator("#wall-freshness")).to_have_class("fresh fresh-ok", timeout=3000)

            page.locator("#wall-lang-en").click()
            expect(page.locator(".header-title h1")).to_have_text("Internet Branch · Business Command Center")
            expect(page.locator("#kpi-card-leads .kpi-label")).to_have_text("Leads", timeout=3000)
            expect(page.locator("#kpi-deposit_amount")).to_have_text("123,456,789.12", timeout=3000)
            assert page.url.endswith("?lang=en")
            _wait_for_charts(page, expect)
            page.screenshot(path="/tmp/wall-en.png")

            page.goto(url + "?lang=en")
            expect(page.locator("#kpi-card-opened .kpi-label")).to_have_text("Accounts opened", timeout=15000)
            page.locator("#wall-lang-zh").click()
            expect(page.locator("#kpi-card-opened .kpi-label")).to_have_text("开户数", timeout=3000)
            assert errors == []
        finally:
            browser.close()



@pytest.mark.browser
def test_stale_watermark_turns_red_in_the_browser_when_the_server_stops(tmp_path):
    """Finding 7: the badge was drawn by the server, so a frozen or dead server left "0.4 s" on the wall.
    The browser now judges staleness by itself, shows "reconnecting", and heals when the server returns."""
    from playwright.sync_api import expect, sync_playwright
    from werkzeug.serving import make_server

    state = {"snapshot": sample_snapshot()}

    def provider():
        return {**state["snapshot"], "generated_at": datetime.now(TZ).isoformat()}

    app = create_app(Settings(refresh_ms=500), provider)

    def serve(port: int = 0):
        server = make_server("127.0.0.1", port, app.server, threaded=True)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        return server

    server = serve()
    port = server.server_port
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=BROWSER_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1920, "height": 1080})
            page.goto(f"http://127.0.0.1:{port}/")
            expect(page.locator("#wall-freshness")).to_have_class("fresh fresh-ok", timeout=15000)
            expect(page.locator("#wall-stale")).to_be_hidden()

            state["snapshot"] = {**sample_snapshot(), "live_state": {"state": "rebuilding"}}
            expect(page.locator("#wall-freshness")).to_have_text("实时数据重建中", timeout=3000)
            state["snapshot"] = sample_snapshot()
            expect(page.locator("#wall-freshness")).to_have_class("fresh fresh-ok", timeout=3000)

            server.shutdown()
            server.server_close()
            stopped = time.monotonic()
            expect(page.locator("#wall-stale")).to_be_visible(timeout=10000)
            assert time.monotonic() - stopped < 8  # 5 s without an answer, judged every second
            expect(page.locator("#wall-stale")).to_contain_text("数据已过期")
            expect(page.locator("#wall-stale")).to_contain_text("重连中")
            expect(page.locator("#wall-freshness")).to_be_hidden()  # its last words were "0.x s"
            expect(page.locator("#kpi-leads")).to_have_text("18,642")  # no error page: the wall stays
            page.screenshot(path=str(tmp_path / "wall-stale.png"))

            server = serve(port)
            expect(page.locator("#wall-stale")).to_be_hidden(timeout=10000)
            expect(page.locator("#wall-freshness")).to_have_class("fresh fresh-ok", timeout=3000)
        finally:
            browser.close()
            server.shutdown()
            server.server_close()
