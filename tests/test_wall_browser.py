"""The wall and its sub-screens in one real browser (Playwright + Debian chromium, CJK font).

One chromium and one app server for the module. Screenshots go under each test's own tmp_path.
"""

from __future__ import annotations

import copy
import re
import threading
import time
from datetime import datetime

import pytest
from test_layouts import REACH, sample_snapshot

from ecc.config import Settings
from ecc.contract.catalogue import STEPS
from ecc.timeutil import TZ
from layouts import wall
from layouts.app import create_app
from layouts.formatting import fmt_money

pytestmark = pytest.mark.browser

CLOCK_PATTERN = re.compile(r"^\d{2}:\d{2}:\d{2}$")
BROWSER_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync"]
SIZES = {"1080p": (1920, 1080), "4k": (3840, 2160), "wall32x9": (5120, 1440)}

# Every text element of the page whose text does not fit its box, or lies outside the screen.
_OVERFLOW_JS = """
() => {
  const vw = document.documentElement.clientWidth, vh = document.documentElement.clientHeight;
  const bad = [];
  for (const el of document.querySelectorAll('.ecc-canvas *')) {
    if (el.closest('svg')) continue;
    const text = [...el.childNodes].filter(n => n.nodeType === 3).map(n => n.textContent).join('').trim();
    if (!text) continue;
    const cs = getComputedStyle(el);
    if (el.getClientRects().length === 0 || cs.visibility === 'hidden') continue;
    const what = (el.id || el.className || el.tagName) + ' "' + text.slice(0, 30) + '"';
    // Vertically, Chrome counts the font's content area (≈1.45 em for Noto CJK) even when line-height
    // is smaller: a clipped line shows as an excess of a whole line, so allow half an em.
    const slack = 0.5 * parseFloat(cs.fontSize);
    if (cs.display !== 'inline' &&
        (el.scrollWidth > el.clientWidth + 1 || el.scrollHeight > el.clientHeight + slack)) {
      bad.push('overflows ' + what + ' ' + el.scrollWidth + 'x' + el.scrollHeight
               + ' > ' + el.clientWidth + 'x' + el.clientHeight);
    }
    // A box shorter than one line of its own text was squeezed by its parent (a flex column with too
    // little room): its glyphs run under the next line (issue 8: the sub-screens' KPI numbers under
    // their hints). Only for a line-height in pixels; 'normal' leaves the box its content height.
    const line = parseFloat(cs.lineHeight);
    if (cs.display !== 'inline' && line && el.clientHeight + 1 < line) {
      bad.push('squeezed ' + what + ' ' + el.clientHeight + ' < line ' + line);
    }
    const r = el.getBoundingClientRect();
    if (r.left < -1 || r.top < -1 || r.right > vw + 1 || r.bottom > vh + 1) {
      bad.push('off screen ' + what);
    }
  }
  // every panel and card whole on the screen, with some room for its content
  for (const el of document.querySelectorAll('.panel, .kpi-card')) {
    if (el.getClientRects().length === 0) continue;
    const r = el.getBoundingClientRect();
    if (r.left < -1 || r.top < -1 || r.right > vw + 1 || r.bottom > vh + 1 || r.height < 0.1 * vh) {
      bad.push('panel off screen or squashed ' + el.className + ' ' + JSON.stringify(r));
    }
  }
  return bad;
}
"""
_SCROLL_JS = """() => { const d = document.documentElement;
  return [d.scrollWidth, d.scrollHeight, d.clientWidth, d.clientHeight,
          document.body.scrollWidth, document.body.scrollHeight]; }"""


_CANVAS_IS_JS = """([w, h]) => { const r = document.querySelector('.ecc-canvas').getBoundingClientRect();
                                return Math.round(r.width) === w && Math.round(r.height) === h; }"""


AGES = {"context": 30.0, "alerts": 1.0}  # seconds: the context's and the alerts' data, as in production


def with_ages(snapshot: dict, ages: dict) -> dict:
    """`snapshot` as read now: built now, its context's newest event and its alerts' read `ages` ago."""
    now = datetime.now(TZ)
    ms = int(now.timestamp() * 1000)
    return {**snapshot, "generated_at": now.isoformat(), "alerts_read_ms": ms - int(ages["alerts"] * 1000),
            "context": {**snapshot["context"], "newest_ms": ms - int(ages["context"] * 1000)}}


class LiveApp:
    """The Dash app on a werkzeug server, over a snapshot the test can change (like the worker does)."""

    def __init__(self) -> None:
        from werkzeug.serving import make_server

        self.snapshot = sample_snapshot()
        self.fail: str | bool = False
        self.ages = dict(AGES)
        self.delay_s = 0.0  # a slow snapshot read: a refresh still in flight when the user navigates
        app = create_app(Settings(refresh_ms=500), self.provide)
        # Warm the process up (Plotly's validators are built on first use: seconds on a busy machine),
        # so the first test's first refresh is not also the process's first figure.
        wall.render(self.provide(), "zh", datetime.now(TZ))
        self._app = app
        self.server = make_server("127.0.0.1", 0, app.server, threaded=True)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.server.server_port}"

    def provide(self) -> dict:
        if self.fail == "raise":
            raise ConnectionError("redis is down")
        if self.fail == "error":
            return {"error": "live store unreachable: redis is down"}
        if self.delay_s:
            time.sleep(self.delay_s)
        return with_ages(self.snapshot, self.ages)

    def reset(self) -> None:
        self.snapshot, self.fail, self.ages, self.delay_s = sample_snapshot(), False, dict(AGES), 0.0

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)


@pytest.fixture(scope="module")
def live_app():
    app = LiveApp()
    try:
        yield app
    finally:
        app.close()


@pytest.fixture(scope="module")
def chromium_browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path="/usr/bin/chromium", args=BROWSER_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def open_page(chromium_browser, live_app):
    """open_page(path, size) -> page; console errors of every page opened are checked at the end."""
    live_app.reset()
    pages, errors = [], []

    def opener(path: str = "/", size: tuple[int, int] = (1920, 1080)):
        page = chromium_browser.new_page(viewport={"width": size[0], "height": size[1]})
        page.on("pageerror", lambda error: errors.append(f"pageerror: {error}"))
        page.on("console", lambda msg: errors.append(f"console: {msg.text}") if msg.type == "error" else None)
        page.goto(live_app.url + path)
        pages.append(page)
        return page

    yield opener
    for page in pages:
        page.close()
    assert errors == []


WALL_CHARTS = ("#wall-funnel-graph .bars path", "#wall-channel-graph .bars path",
               "#wall-trend-graph .scatterlayer .trace", "#wall-asset-graph .slice",
               "#wall-wealth-graph .bars path", "#wall-province-graph .bars path",
               "#wall-tier-graph .bars path")


def _wait_for_charts(page, expect, selectors=WALL_CHARTS):
    """Every chart drawn with its data (not the empty placeholder) before measuring or a screenshot."""
    for selector in selectors:
        expect(page.locator(selector).first).to_be_attached(timeout=8000)
    page.wait_for_timeout(600)  # plotly's last layout pass


# The donut's outside percentage labels against its legend's swatches and texts: the boxes that come
# closer than 4 px (issue 8: on the assets screen, a quarter of 1920 px wide, "41.7%" ran into the legend).
_DONUT_CLASH_JS = """(root) => {
    const box = el => el.getBoundingClientRect();
    const legend = root + ' g.legend';
    const items = [...document.querySelectorAll(legend + ' .legendpoints, ' + legend + ' .legendtext')]
        .map(box);
    return [...document.querySelectorAll(root + ' .slicetext')].filter(t => {
        const r = box(t);
        return items.some(l => r.left < l.right + 4 && l.left < r.right + 4 && r.top < l.bottom + 4
                               && l.top < r.bottom + 4); }).map(t => t.textContent); }"""


def _assert_donut_clear(page, root: str, label: str) -> None:
    assert page.locator(f"{root} .slicetext").count() > 0, f"{label}: no donut labels drawn"
    assert page.evaluate(_DONUT_CLASH_JS, root) == [], f"{label}: donut labels touch the legend"


def _assert_fits(page, label: str) -> None:
    sw, sh, cw, ch, bw, bh = page.evaluate(_SCROLL_JS)
    assert (sw, sh) == (cw, ch) and (bw, bh) == (cw, ch), f"{label}: scrollbars {sw}x{sh} in {cw}x{ch}"
    problems = page.evaluate(_OVERFLOW_JS)
    assert problems == [], f"{label}: " + "; ".join(problems)


# ---- the wall at every size, in both languages -----------------------------------------------------

def _resize(page, size: tuple[int, int]) -> None:
    """A new screen size: wait until the canvas is fitted to it and Plotly has redrawn at its size."""
    page.set_viewport_size({"width": size[0], "height": size[1]})
    page.wait_for_function(_CANVAS_IS_JS, arg=list(size), timeout=5000)
    page.wait_for_timeout(700)  # Plotly's responsive relayout


def test_wall_fills_1080p_4k_and_a_32_9_wall_in_both_languages(open_page, tmp_path):
    """One page, resized to each screen (no reload: the canvas re-fits on resize) in each language."""
    from playwright.sync_api import expect

    heights: dict[tuple[str, str], float] = {}
    page = open_page("/?lang=zh")
    for lang in ("zh", "en"):
        if lang == "en":
            page.locator("#wall-lang-en").click()
            expect(page.locator("#kpi-card-leads .kpi-label")).to_have_text("Leads", timeout=5000)
        expect(page.locator("#kpi-leads")).to_have_attribute("data-value", "18642", timeout=15000)
        _wait_for_charts(page, expect)
        for name, size in SIZES.items():
            _resize(page, size)
            _assert_fits(page, f"{name} {lang}")
            _assert_donut_clear(page, ".panel-assets", f"wall {name} {lang}")
            heights[(name, lang)] = page.locator("#kpi-leads").bounding_box()["height"]
            wide = page.evaluate("document.documentElement.classList.contains('ecc-wide')")
            assert wide is (name == "wall32x9")
            # the 32:9 wall uses its width: the alerts panel joins and the funnel spans half of it
            assert page.locator(".panel-alerts").is_visible() is (name == "wall32x9")
            funnel = page.locator(".panel-funnel").bounding_box()
            assert funnel["width"] > 0.45 * size[0] and funnel["x"] + funnel["width"] <= size[0]
            page.screenshot(path=str(tmp_path / f"wall-{name}-{lang}.png"))
    for lang in ("zh", "en"):
        base = heights[("1080p", lang)]
        assert heights[("4k", lang)] / base == pytest.approx(2.0, rel=0.05)  # text grows with the screen
        assert heights[("wall32x9", lang)] / base == pytest.approx(1440 / 1080, rel=0.05)


def test_hover_lands_on_the_bar_under_the_mouse_at_4k(open_page):
    """The canvas is scaled with transform (not zoom): Plotly's hover must still find the bar under the
    mouse and put its label next to it."""
    from playwright.sync_api import expect

    page = open_page("/", SIZES["4k"])
    _wait_for_charts(page, expect)
    bar = page.locator("#wall-funnel-graph .bars path").nth(5).bounding_box()
    x, y = bar["x"] + bar["width"] / 2, bar["y"] + bar["height"] / 2
    page.mouse.move(x - 40, y)
    page.mouse.move(x, y, steps=4)
    label = page.locator("#wall-funnel-graph .hoverlayer .hovertext")
    expect(label).to_be_visible(timeout=3000)
    assert f"{REACH[5]:,}" in label.text_content()
    box = label.bounding_box()
    assert abs(box["x"] - x) < 600 and abs(box["y"] + box["height"] / 2 - y) < 400


@pytest.mark.parametrize("fit", ["contain", "width", "height", "stretch"])
def test_fit_modes_from_the_url(open_page, fit):
    from playwright.sync_api import expect

    page = open_page(f"/?fit={fit}", SIZES["4k"])
    expect(page.locator("#kpi-leads")).to_have_attribute("data-value", "18642", timeout=15000)
    assert page.evaluate("document.documentElement.dataset.fit") == fit
    canvas = page.locator(".ecc-canvas").bounding_box()
    # on a 16:9 screen every mode shows the 1920×1080 design at 2× and fills the screen exactly
    assert (round(canvas["width"]), round(canvas["height"])) == SIZES["4k"]
    transform = page.evaluate("getComputedStyle(document.querySelector('.ecc-canvas')).transform")
    assert transform.startswith("matrix(2, 0, 0, 2")
    page.set_viewport_size({"width": 1920, "height": 1440})  # 4:3: contain letterboxes, stretch distorts
    expected = {"contain": (1920, 1080), "width": (1920, 1440), "height": (2560, 1440),
                "stretch": (1920, 1440)}[fit]
    # 10 s, not 3: at load 6 on 2 cores the refit (and the charts' relayout) took longer (with and without
    # the server's changes of issue 8: a browser-side wait, seen failing on HEAD too)
    page.wait_for_function(_CANVAS_IS_JS, arg=list(expected), timeout=10_000)


def test_wall_numbers_languages_and_failures(open_page, live_app, tmp_path):
    from playwright.sync_api import expect

    page = open_page("/")
    expect(page.locator("#kpi-leads")).to_have_attribute("data-value", "18642", timeout=15000)
    expect(page.locator(".header-title h1")).to_have_text("互联网分公司 · 业务指挥中心")
    expect(page.locator("#kpi-card-leads .kpi-label")).to_have_text("线索数")
    for selector, text in (("#kpi-leads", "18,642"), ("#kpi-opened", "4,987"),
                           ("#kpi-first_deposits", "2,031"), ("#kpi-dial_rate", "83.0%"),
                           ("#kpi-open_rate", "26.8%"), ("#kpi-deposit_amount", "1.23 亿"),
                           ("#kpi-net_inflow", "1.00 亿")):
        expect(page.locator(selector)).to_have_text(text)
    for k, value in zip(STEPS, REACH, strict=True):
        expect(page.locator(f"#reach-{k}")).to_have_attribute("data-value", str(value))
        expect(page.locator(f"#reach-{k}")).to_have_text(f"{value:,}")
    expect(page.locator("#wall-freshness")).to_have_class("fresh fresh-ok")
    expect(page.locator("#wall-clock")).to_have_text(CLOCK_PATTERN)
    expect(page.locator("#wall-session")).to_have_class(re.compile(r"^session session-"))

    # Live without flicker: the numbers change in place; the chart's SVG and the cards are the same nodes.
    _wait_for_charts(page, expect)
    page.evaluate("""() => { document.querySelector('#wall-funnel-graph .main-svg').eccMark = 1;
                             document.querySelector('#kpi-card-leads .kpi-label').eccMark = 1; }""")
    changed = copy.deepcopy(live_app.snapshot)
    changed["totals"]["leads"] = 18777
    changed["totals"]["reach"]["3"] = 12001
    changed["totals"]["net_inflow"] = "-5000000.00"
    live_app.snapshot = changed
    expect(page.locator("#kpi-leads")).to_have_text("18,777", timeout=3000)
    expect(page.locator("#reach-3")).to_have_attribute("data-value", "12001", timeout=3000)
    expect(page.locator("#kpi-net_inflow")).to_have_text("-500.00 万", timeout=3000)
    page.wait_for_timeout(1200)  # a few more refreshes
    assert page.evaluate("""() => [document.querySelector('#wall-funnel-graph .main-svg').eccMark,
                                   document.querySelector('#kpi-card-leads .kpi-label').eccMark]""") == [1, 1]

    for failure in ("raise", "error"):  # the provider raises, or says so as layouts.server does
        live_app.fail = failure
        expect(page.locator("#wall-freshness")).to_have_text("数据源异常", timeout=3000)
        expect(page.locator("#kpi-leads")).to_have_text("18,777")  # the last numbers stay up
        live_app.fail = False
        expect(page.locator("#wall-freshness")).to_have_class("fresh fresh-ok", timeout=3000)

    page.locator("#wall-lang-en").click()
    expect(page.locator(".header-title h1")).to_have_text("Internet Branch · Business Command Center")
    expect(page.locator("#kpi-card-leads .kpi-label")).to_have_text("Leads", timeout=3000)
    expect(page.locator("#kpi-deposit_amount")).to_have_text("123,456,789.12", timeout=3000)
    assert page.url.endswith("?lang=en")
    page.wait_for_function("document.documentElement.lang === 'en'", timeout=3000)
    _wait_for_charts(page, expect)
    page.screenshot(path=str(tmp_path / "wall-en.png"))
    page.locator("#wall-lang-zh").click()
    expect(page.locator("#kpi-card-opened .kpi-label")).to_have_text("开户数", timeout=3000)
    page.wait_for_function("document.documentElement.lang === 'zh-CN'", timeout=3000)


# ---- every panel's watermark, and what the main wall shows of assets and service ---------------------

_WATERMARKS_JS = """() => [...document.querySelectorAll('.panel')].filter(p => p.getClientRects().length)
    .map(p => { const w = p.querySelectorAll('.panel-watermark');
                return [p.className, w.length, w.length ? w[0].className : '',
                        w.length ? w[0].textContent : '',
                        getComputedStyle(p.querySelector('.panel-body')).opacity]; })"""
_AS_OF = re.compile(r"^截至 \d{2}:\d{2}:\d{2}$")


def test_every_panel_says_up_to_when_its_data_is(open_page, live_app, tmp_path):
    """Each panel's watermark follows its own source: the live counters, the context (ClickHouse, once a
    minute) and the alert list; a source that stops turns its panels red and dim, and only those."""
    from playwright.sync_api import expect

    page = open_page("/", SIZES["wall32x9"])  # the wide wall: every panel of the wall, alerts included
    expect(page.locator(".panel-funnel .panel-watermark")).to_have_class("panel-watermark wm-ok",
                                                                         timeout=15000)
    expect(page.locator(".panel-provinces .panel-watermark")).to_have_class("panel-watermark wm-ok")
    panels = page.evaluate(_WATERMARKS_JS)
    assert len(panels) == 7
    for css, count, mark, text, opacity in panels:
        assert count == 1 and mark == "panel-watermark wm-ok" and _AS_OF.match(text), (css, mark, text)
        assert opacity == "1", css
    shown = page.locator(".panel-provinces .panel-watermark").text_content()
    expected = datetime.fromtimestamp(time.time() - AGES["context"], TZ)
    assert abs((datetime.strptime(shown[3:], "%H:%M:%S") - datetime.strptime(
        expected.strftime("%H:%M:%S"), "%H:%M:%S")).total_seconds()) <= 3
    assert "ClickHouse" in page.locator(".panel-provinces .panel-watermark").get_attribute("title")

    live_app.ages["context"] = 400.0  # the context stopped being recomputed 7 minutes ago
    mark = page.locator(".panel-provinces .panel-watermark")
    expect(mark).to_have_class("panel-watermark wm-stale", timeout=5000)
    expect(mark).to_have_text(re.compile(r"^已过期 [67] 分钟$"))
    page.wait_for_timeout(500)
    by_panel = {css.split()[1]: (mark, opacity) for css, _, mark, _, opacity in page.evaluate(_WATERMARKS_JS)}
    for name in ("panel-provinces", "panel-assets"):  # the context's: AUM by province, tier and class
        assert by_panel.pop(name) == ("panel-watermark wm-stale", "0.45")
    assert all(value == ("panel-watermark wm-ok", "1") for value in by_panel.values()), by_panel

    kpi_mark = page.locator("#kpi-card-leads .panel-watermark")
    assert kpi_mark.evaluate("el => getComputedStyle(el).visibility") == "hidden"  # fresh: the badge says it
    live_app.snapshot = {**live_app.snapshot, "freshness_s": 20.0}  # the live counters 20 s behind: amber
    expect(page.locator(".panel-funnel .panel-watermark")).to_have_class("panel-watermark wm-warn",
                                                                         timeout=5000)
    expect(kpi_mark).to_have_class("panel-watermark wm-warn")
    expect(kpi_mark).to_be_visible()
    expect(page.locator(".panel-alerts .panel-watermark")).to_have_class("panel-watermark wm-ok")
    page.screenshot(path=str(tmp_path / "wall-watermarks.png"))

    # the sub-screens' panels have theirs too, in English
    page.goto(live_app.url + "/screen/assets?lang=en")
    expect(page.locator(".panel-tiers .panel-watermark")).to_have_class("panel-watermark wm-stale",
                                                                        timeout=15000)
    expect(page.locator(".panel-tiers .panel-watermark")).to_have_text(re.compile(r"^stale [67] min$"))
    expect(page.locator(".panel-money .panel-watermark")).to_have_text(
        re.compile(r"^as of \d{2}:\d{2}:\d{2}$"))


def test_the_wall_shows_turnover_and_aum_by_segment_and_level(open_page):
    from playwright.sync_api import expect

    page = open_page("/")
    value = page.locator("#wall-turnover .turnover-value")
    expect(value).to_have_text("0.17%", timeout=15000)
    expect(page.locator("#wall-turnover .turnover-hint")).to_have_text(
        "今日交易额 1,450.00 万 ÷ 资产规模 86.42 亿")
    expect(page.locator("#wall-tier-graph .bars path").first).to_be_attached(timeout=8000)
    bars = page.evaluate("""() => {
        const d = document.querySelector('#wall-tier-graph .js-plotly-plot').data[0];
        return Object.fromEntries(d.y.map((y, i) => [y, d.x[i]])); }""")
    assert bars == {"交易型": 9_000_000, "理财型": 7_000_000, "V3": 5_000_000, "V0": 10}


def test_a_refresh_answered_after_the_user_left_the_wall_is_harmless(open_page, live_app):
    """Issue 8: "Cannot patch undefined" in the console after fast wall → drill navigation on a loaded
    machine (about 1 in 40 round trips with six busy processes): a wall refresh sent before the user left
    and answered after; Dash resolved its trend update (a `Patch`) against the page as it was when the
    request left. The exact interleaving needs that load; here a slow refresh is answered on another page,
    three times, and the wall is come back to: the console must stay clean (open_page checks) and the
    trend must be drawn (a delta that does not fit the lines shown asks for the whole figure)."""
    from playwright.sync_api import expect

    page = open_page("/")
    _wait_for_charts(page, expect)
    page.wait_for_timeout(1200)  # the trend has been updated in place at least once
    live_app.snapshot = copy.deepcopy(live_app.snapshot)
    live_app.delay_s = 1.2
    for _ in range(3):
        with page.expect_request(lambda r: "_dash-update-component" in r.url and "wall-trend" in
                                 (r.post_data or "")):
            pass
        page.evaluate("""() => { window.history.pushState({}, '', '/no-such-page');
                                 window.dispatchEvent(new CustomEvent('_dashprivate_pushstate')); }""")
        expect(page.locator(".not-found")).to_be_visible(timeout=5000)
        page.wait_for_timeout(1800)  # the wall's answer arrives on the other page
        page.go_back()
        expect(page.locator(".screen-wall")).to_be_visible(timeout=5000)
        page.wait_for_timeout(600)
    live_app.delay_s = 0.0
    expect(page.locator("#wall-trend-graph .scatterlayer .trace").first).to_be_attached(timeout=8000)
    page.wait_for_timeout(1500)


# ---- sub-screens and kiosk rotation ----------------------------------------------------------------

SUB_SCREENS = {
    "acquisition": ".widget-fig-channels .bars path",
    "funnel": ".widget-fig-rejects .bars path",
    "assets": ".widget-fig-assets .slice",
    "service": ".widget-fig-wealth .bars path",
    "alerts": ".alerts-empty",
}


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_every_sub_screen_fits_and_shows_the_snapshot(open_page, tmp_path, lang):
    """One page per language: the screens are reached with the number keys (no reload), at 1080p and
    on a 32:9 wall."""
    from playwright.sync_api import expect

    page = open_page(f"/screen/acquisition?lang={lang}")
    expect(page.locator(".kpi-card-leads .kpi-value")).to_have_attribute("data-value", "18642", timeout=15000)
    expect(page.locator(".kpi-card-dial_rate .kpi-value")).to_have_text("83.0%")
    expect(page.locator(".leaderboard tbody tr").first).to_contain_text("4,820")
    for size_name in ("1080p", "wall32x9"):
        _resize(page, SIZES[size_name])
        for number, (name, ready) in enumerate(SUB_SCREENS.items(), start=2):
            page.keyboard.press(str(number))
            expect(page.locator(f".screen-{name}")).to_be_visible(timeout=5000)
            expect(page.locator("#screen-freshness")).to_have_class("fresh fresh-ok", timeout=5000)
            expect(page.locator(ready).first).to_be_attached(timeout=8000)
            page.wait_for_timeout(400)
            _assert_fits(page, f"{name} {size_name} {lang}")
            if name == "assets":
                _assert_donut_clear(page, ".widget-fig-assets", f"{name} {size_name} {lang}")
            page.screenshot(path=str(tmp_path / f"screen-{name}-{size_name}-{lang}.png"))
    expect(page.locator(".alerts-empty-text")).to_have_text("暂无告警" if lang == "zh" else "No alerts")


def test_kiosk_rotates_without_reload_and_survives_a_reload(open_page, tmp_path):
    from playwright.sync_api import expect

    page = open_page("/?kiosk=1&rotate=3&fit=width&screens=wall,funnel,assets")
    expect(page.locator("#kpi-leads")).to_have_attribute("data-value", "18642", timeout=15000)
    assert page.evaluate("document.documentElement.classList.contains('ecc-kiosk')")
    expect(page.locator(".screen-footer")).to_be_hidden()
    expect(page.locator(".lang-switch")).to_be_hidden()
    assert page.evaluate("getComputedStyle(document.querySelector('.ecc-canvas')).cursor") == "none"
    page.evaluate("window.eccNoReload = 1")
    page.wait_for_url(re.compile(r"/screen/funnel\?"), timeout=8000)
    reached_funnel = time.monotonic()
    expect(page.locator(".screen-funnel")).to_be_visible()
    page.wait_for_url(re.compile(r"/screen/assets\?"), timeout=8000)
    assert 2.0 < time.monotonic() - reached_funnel < 6.0  # rotate=3
    assert page.evaluate("window.eccNoReload") == 1  # rotated twice without loading the page again
    assert page.evaluate("document.documentElement.classList.contains('ecc-kiosk')")
    assert "kiosk=1" in page.url and "fit=width" in page.url and "screens=wall%2Cfunnel%2Cassets" in page.url
    page.screenshot(path=str(tmp_path / "kiosk-assets.png"))

    page.reload()
    expect(page.locator(".screen-assets")).to_be_visible(timeout=15000)
    assert page.evaluate("document.documentElement.classList.contains('ecc-kiosk')")
    page.wait_for_url(re.compile(r"/\?kiosk=1"), timeout=8000)  # after assets comes the wall again
    expect(page.locator(".screen-wall")).to_be_visible()

    # the bare address in the same tab comes back in kiosk mode (sessionStorage)
    page.goto(page.url.split("?")[0])
    expect(page.locator(".screen-wall")).to_be_visible(timeout=15000)
    assert "kiosk=1" in page.url
    assert page.evaluate("document.documentElement.classList.contains('ecc-kiosk')")


def test_keyboard_moves_between_screens_and_toggles_kiosk(open_page):
    from playwright.sync_api import expect

    page = open_page("/?lang=en")
    expect(page.locator("#kpi-leads")).to_have_attribute("data-value", "18642", timeout=15000)
    expect(page.locator(".keys-help")).to_be_visible()
    page.evaluate("window.eccNoReload = 1")
    page.keyboard.press("ArrowRight")
    page.wait_for_url(re.compile(r"/screen/acquisition\?lang=en$"), timeout=5000)
    expect(page.locator(".screen-acquisition")).to_be_visible()
    page.keyboard.press("3")
    page.wait_for_url(re.compile(r"/screen/funnel\?lang=en$"), timeout=5000)
    page.keyboard.press("ArrowLeft")
    page.wait_for_url(re.compile(r"/screen/acquisition\?lang=en$"), timeout=5000)
    page.keyboard.press("k")
    page.wait_for_url(re.compile(r"kiosk=1"), timeout=5000)
    expect(page.locator(".screen-footer")).to_be_hidden()
    page.keyboard.press("f")
    page.wait_for_url(re.compile(r"fit=contain"), timeout=5000)
    page.wait_for_function("document.documentElement.dataset.fit === 'contain'", timeout=3000)
    page.keyboard.press("k")
    page.wait_for_url(re.compile(r"^(?!.*kiosk=1)"), timeout=5000)
    expect(page.locator(".screen-footer")).to_be_visible()
    assert page.evaluate("window.eccNoReload") == 1
    page.locator("#nav-service").click()
    expect(page.locator(".screen-service")).to_be_visible(timeout=5000)
    assert "fit=contain" in page.url and "lang=en" in page.url  # the tabs keep the query string


# ---- the stale watermark (its own server: it is stopped and restarted) ------------------------------

def test_stale_watermark_turns_red_in_the_browser_when_the_server_stops(chromium_browser, tmp_path):
    """Finding 7: the badge was drawn by the server, so a frozen or dead server left "0.4 s" on the wall.
    The browser now judges staleness by itself, shows "reconnecting", and heals when the server returns."""
    from playwright.sync_api import expect
    from werkzeug.serving import make_server

    state = {"snapshot": sample_snapshot()}

    def provider():
        return with_ages(state["snapshot"], AGES)

    app = create_app(Settings(refresh_ms=500), provider)

    def serve(port: int = 0):
        server = make_server("127.0.0.1", port, app.server, threaded=True)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        return server

    server = serve()
    port = server.server_port
    page = chromium_browser.new_page(viewport={"width": 1920, "height": 1080})
    try:
        page.goto(f"http://127.0.0.1:{port}/")
        expect(page.locator("#wall-freshness")).to_have_class("fresh fresh-ok", timeout=15000)
        expect(page.locator("#wall-stale")).to_be_hidden()

        state["snapshot"] = {**sample_snapshot(), "live_state": {"state": "rebuilding"}}
        expect(page.locator("#wall-freshness")).to_have_text("实时数据重建中", timeout=3000)
        state["snapshot"] = sample_snapshot()
        expect(page.locator("#wall-freshness")).to_have_class("fresh fresh-ok", timeout=3000)

        # 56 s behind: amber; with the server gone the browser ages it past 60 s by itself
        state["snapshot"] = {**sample_snapshot(), "freshness_s": 56.0}
        funnel_mark = page.locator(".panel-funnel .panel-watermark")
        expect(funnel_mark).to_have_class("panel-watermark wm-warn", timeout=3000)
        server.shutdown()
        server.server_close()
        stopped = time.monotonic()
        expect(page.locator("#wall-stale")).to_be_visible(timeout=10000)
        assert time.monotonic() - stopped < 8  # 5 s without an answer, judged every second
        expect(page.locator("#wall-stale")).to_contain_text("数据已过期")
        expect(page.locator("#wall-stale")).to_contain_text("重连中")
        expect(page.locator("#wall-freshness")).to_be_hidden()  # its last words were "0.x s"
        expect(page.locator("#kpi-leads")).to_have_text("18,642")  # no error page: the wall stays
        expect(funnel_mark).to_have_class("panel-watermark wm-stale", timeout=10000)
        expect(funnel_mark).to_contain_text("已过期")
        page.screenshot(path=str(tmp_path / "wall-stale.png"))

        state["snapshot"] = sample_snapshot()
        server = serve(port)
        expect(page.locator("#wall-stale")).to_be_hidden(timeout=10000)
        expect(funnel_mark).to_have_class("panel-watermark wm-ok", timeout=3000)
        expect(page.locator("#wall-freshness")).to_have_class("fresh fresh-ok", timeout=3000)
    finally:
        page.close()
        server.shutdown()
        server.server_close()


# ---- the real stack: numbers on the screen are the API's ---------------------------------------------

class StackApp:
    """The wall and /api/v1 over real chDB, Valkey and SQLite, as layouts/server.py composes them."""

    def __init__(self, ch, redis_client, settings) -> None:
        from test_wall_context import scenario_events
        from werkzeug.serving import make_server

        from ecc import metadata
        from ecc.contract.validate import validate
        from ecc.live.live_store import LiveStore
        from ecc.services import Services
        from ecc.sink import SinkStats, store_batch
        from ecc.web.answer_cache import AnswerCache
        from ecc.web.api import create_api
        from layouts.context import WallContext, with_context

        now = datetime.now(TZ)
        engine = metadata.connect(settings.metadata)
        metadata.migrate(engine)
        live = LiveStore(redis_client)
        services = Services(settings=settings, live=live, ch=ch, meta=engine)
        events = [validate(e, phone_key="k", now_ms=int(now.timestamp() * 1000) + 60_000)
                  for e in scenario_events(now)]
        store_batch(ch, events, [], SinkStats())
        live.apply(events, now=now.date(), count_rate=False)
        self.context = WallContext(ch, engine, AnswerCache(redis_client))
        self.context.refresh()
        api = create_api(services)
        app = create_app(Settings(refresh_ms=1000), with_context(live.snapshot, self.context),
                         extra_setup=lambda dash_app: dash_app.server.register_blueprint(api))
        self.server = make_server("127.0.0.1", 0, app.server, threaded=True)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.server.server_port}"

    def api(self, path: str, **params) -> dict:
        import json
        import urllib.parse
        import urllib.request

        query = "?" + urllib.parse.urlencode(params) if params else ""
        with urllib.request.urlopen(self.url + path + query, timeout=30) as answer:
            return json.loads(answer.read())

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)


def _same(key: str, shown: str, api_value) -> bool:
    """A number as the card holds it (data-value / data-base) against the API's JSON value."""
    if api_value is None:
        return shown == ""
    if key in ("dial_rate", "open_rate"):
        return shown != "" and float(shown) == pytest.approx(api_value, abs=1e-12)
    return shown == str(api_value)


def test_wall_numbers_equal_the_api_for_the_same_scenario(chromium_browser, ch, redis_client, settings,
                                                          tmp_path):
    """Today's cards against /api/v1/kpis (today so far), and each comparison against /api/v1/kpis for
    the window the card names (data-from, data-to); the trend arrives as deltas after its first draw."""
    from playwright.sync_api import expect

    now = datetime.now(TZ)
    if now.hour == 0 and now.minute < 20:
        pytest.skip("the first minutes of a Shanghai day have no time of day to compare yet")
    stack = StackApp(ch, redis_client, settings)
    page = chromium_browser.new_page(viewport={"width": 1920, "height": 1080})
    errors, trend_updates = [], []
    page.on("pageerror", lambda error: errors.append(f"pageerror: {error}"))
    page.on("console", lambda msg: errors.append(f"console: {msg.text}") if msg.type == "error" else None)

    def on_response(response):
        if "_dash-update-component" in response.url:
            try:
                answer = response.json().get("response", {})
            except Exception:  # another callback's answer, or a closed page
                return
            if "wall-trend-graph" in answer and "wall-trend-delta" not in answer:
                trend_updates.append("figure")
            elif "wall-trend-delta" in answer and "wall-trend-graph" not in answer:
                trend_updates.append("delta")
    page.on("response", on_response)
    try:
        page.goto(stack.url + "/")
        expect(page.locator("#kpi-leads")).not_to_have_attribute("data-value", "", timeout=30000)
        expect(page.locator("#kpi-compare-leads .cmp").first).not_to_have_attribute("data-base", "",
                                                                                    timeout=30000)
        today = stack.api("/api/v1/kpis")
        assert today["leads"] > 0
        for key in wall.KPI_KEYS:
            shown = page.locator(f"#kpi-{key}").get_attribute("data-value")
            assert _same(key, shown, today[key]), (key, shown, today[key])
            for item in page.locator(f"#kpi-compare-{key} .cmp").all():
                window = {"from": item.get_attribute("data-from"), "to": item.get_attribute("data-to")}
                before = stack.api("/api/v1/kpis", **window)
                assert _same(key, item.get_attribute("data-base"), before[key]), (key, window)
        _wait_for_charts(page, expect, WALL_CHARTS[:4])
        # AUM (the donut's centre, its classes, the turnover rate) is the API's too
        assets = stack.api("/api/v1/assets")
        donut = page.evaluate("""() => {
            const gd = document.querySelector('#wall-asset-graph .js-plotly-plot');
            return [gd.layout.annotations[0].text, gd.data[0].values]; }""")
        assert fmt_money(assets["total"], "zh") in donut[0]
        assert sorted(donut[1]) == sorted(float(v) for v in assets["by_class"].values() if float(v) > 0)
        rate = float(page.locator("#wall-turnover .turnover-value").get_attribute("data-value"))
        assert rate == pytest.approx(today["turnover_rate"], rel=1e-9)
        page.wait_for_timeout(3500)
        assert trend_updates[0] == "figure" and "delta" in trend_updates[1:], trend_updates
        # the deltas were applied, not refused: no whole figure was asked for again
        assert trend_updates.count("figure") == 1, trend_updates
        page.screenshot(path=str(tmp_path / "wall-real-stack.png"))
    finally:
        page.close()
        stack.close()
    assert errors == []
