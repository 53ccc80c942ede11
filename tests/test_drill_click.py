"""Click-through from the wall and sub-screens to the drill-down, in a real browser.

The wall is fed the sample snapshot of tests/test_layouts.py (so its bars are where the test expects);
/api/v1 is the real API over real chDB and Redis, seeded with journeys of today, so the drill-down pages it
lands on show real API answers. Real werkzeug server on 127.0.0.1, Debian chromium. Screenshots under each
test's own tmp_path.
"""

from __future__ import annotations

import threading
from datetime import datetime, timedelta
from urllib.parse import parse_qs, urlencode, urlparse

import pytest
import redis
from oracle import journeys
from test_layouts import sample_snapshot

from ecc import metadata
from ecc.config import Settings
from ecc.contract.catalogue import CHANNELS, channel_label
from ecc.contract.validate import validate
from ecc.live.live_store import LiveStore
from ecc.olap import clickhouse
from ecc.services import Services
from ecc.sink import SinkStats, store_batch
from ecc.timeutil import TZ
from ecc.web.api import create_api
from layouts.app import create_app

pytestmark = pytest.mark.browser

BROWSER_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync"]
LABEL_TO_CODE = {channel_label(code, lang): code for code in CHANNELS for lang in ("zh", "en")}


class App:
    """The Dash app with /api/v1 on a werkzeug server; the wall reads a fixed sample snapshot."""

    def __init__(self, services: Services, settings: Settings) -> None:
        from werkzeug.serving import make_server

        def snapshot() -> dict:
            return {**sample_snapshot(), "generated_at": datetime.now(TZ).isoformat()}

        def mount_api(dash_app) -> None:
            dash_app.server.register_blueprint(create_api(services))

        app = create_app(settings, snapshot, extra_setup=mount_api)
        self.server = make_server("127.0.0.1", 0, app.server, threaded=True)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.server.server_port}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)


@pytest.fixture(scope="module")
def app(chdb_client, valkey_url, tmp_path_factory):
    clickhouse.truncate_all(chdb_client)
    settings = Settings(data_dir=str(tmp_path_factory.mktemp("drill-click")), phone_hash_key="test-key",
                        refresh_ms=500, redis_url=valkey_url)
    engine = metadata.connect(settings.metadata)
    metadata.migrate(engine)
    r = redis.Redis.from_url(valkey_url, decode_responses=True)
    r.flushdb()
    services = Services(settings=settings, live=LiveStore(r), ch=chdb_client, meta=engine)
    start = datetime.now(TZ) - timedelta(minutes=40)
    if start.date() != datetime.now(TZ).date():  # just after midnight: keep the journeys in today
        start = datetime.now(TZ).replace(hour=0, minute=0, second=1, microsecond=0)
    raw = []
    for n, code in enumerate(CHANNELS):
        leads = {f"L-{code}-{i}": [(s, start + timedelta(seconds=10 * s + i))
                                   for s in range(1, 2 + (i + n) % 10)] for i in range(3 + n)}
        raw += journeys(leads, channel=code, province="广东")
    # one account with a large branch's amounts, long in English ("1,234,567,890.12"): the cards must fit them
    at = (start + timedelta(minutes=5)).isoformat(timespec="milliseconds")
    raw += [{"event_id": "d-big-1", "type": "deposit", "ts": at, "account_id": "A-big", "channel": "douyin",
             "amount": "1234567890.12", "first": True},
            {"event_id": "a-big-1", "type": "asset", "ts": at, "account_id": "A-big", "channel": "douyin",
             "level": "V7", "segment": "trading",
             "holdings": {"stock": "987654321.98", "fund": "246913578.02"}}]
    now_ms = int(datetime.now(TZ).timestamp() * 1000)
    store_batch(chdb_client, [validate(e, phone_key="k", now_ms=now_ms) for e in raw], [], SinkStats())
    server = App(services, settings)
    try:
        yield server
    finally:
        server.close()
        r.close()


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
def page(chromium_browser, app):
    context = chromium_browser.new_context(viewport={"width": 1920, "height": 1080})
    errors: list[str] = []
    tab = context.new_page()
    tab.set_default_timeout(150_000)  # a loaded shared machine: the first refresh can take a minute
    tab.on("pageerror", lambda error: errors.append(f"pageerror: {error}"))
    tab.on("console", lambda msg: errors.append(f"console: {msg.text}") if msg.type == "error" else None)
    yield tab
    context.close()
    assert errors == [], errors


def query(url: str) -> dict[str, list[str]]:
    return parse_qs(urlparse(url).query)


def wait_for_bars(tab, graph: str) -> None:
    tab.wait_for_function(f"document.querySelectorAll('#{graph} .trace.bars .point path').length > 0")
    tab.wait_for_function(f"document.querySelector('#{graph} .js-plotly-plot').__eccDrill === true")


def click_bar(tab, graph: str, index: int) -> None:
    """Click the bar where it is drawn. A page re-rendered by a URL change (kiosk on) may replace the chart
    between finding the bar and measuring it (CI once got no box): measure again until it stays."""
    bar = tab.locator(f"#{graph} .trace.bars").first.locator(".point path").nth(index)
    for _ in range(40):
        box = bar.bounding_box()
        if box and box["width"] > 0:
            tab.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] - 2)
            return
        tab.wait_for_timeout(250)
    raise AssertionError(f"bar {index} of {graph} never stayed drawn")


def test_channel_bar_lands_filtered_and_back_keeps_each_filter(page, app, tmp_path):
    page.goto(app.url + "/")
    wait_for_bars(page, "wall-channel-graph")
    label = page.evaluate("document.querySelector('#wall-channel-graph .js-plotly-plot').data[0].y[1]")
    code = LABEL_TO_CODE[label]
    click_bar(page, "wall-channel-graph", 1)
    page.wait_for_url("**/drill?channel=*")
    assert urlparse(page.url).path == "/drill" and query(page.url) == {"channel": [code]}
    page.wait_for_selector("#drill-kpi-leads[data-value]")
    assert page.locator("#drill-channel .dash-dropdown-value").inner_text().strip() == label
    api = page.request.get(f"{app.url}/api/v1/kpis", params={"channel": code}).json()
    assert int(page.get_attribute("#drill-kpi-leads", "data-value")) == api["leads"] > 0
    page.screenshot(path=str(tmp_path / "landed-channel.png"), full_page=True)

    page.locator("#drill-period label", has_text="近7天").click()
    page.wait_for_url("**period=7d*")
    assert query(page.url) == {"channel": [code], "period": ["7d"]}
    page.wait_for_selector("#drill-period input[value='7d']:checked")
    page.locator("#drill-tab-channels").click()
    page.wait_for_url("**/drill/channels?*")
    assert query(page.url) == {"channel": [code], "period": ["7d"]}
    page.wait_for_selector("#drill-channel-table")

    page.go_back()
    page.wait_for_url(lambda url: urlparse(url).path == "/drill" and "period=7d" in url)
    page.go_back()
    page.wait_for_url(lambda url: urlparse(url).path == "/drill" and "period" not in url)
    page.wait_for_selector("#drill-period input[value=today]:checked")
    assert query(page.url) == {"channel": [code]}
    page.go_back()
    page.wait_for_url(lambda url: urlparse(url).path == "/")
    wait_for_bars(page, "wall-channel-graph")


def test_channel_table_csv_holds_names_and_a_name_opens_its_overview(page, app, tmp_path):
    """The table's CSV is for a spreadsheet: the channel column holds the channel's name, not the
    markdown link the page used to show (issue 8: "[Douyin](/drill?channel=douyin&lang=en)" in the file);
    the name still opens the overview filtered to that channel, keeping the other filters."""
    import csv
    import io

    page.goto(app.url + "/drill/channels?period=7d&lang=en")
    page.wait_for_selector("#drill-channel-table td[data-dash-column=code]")
    with page.expect_download() as download:
        page.locator("#drill-channel-table button.export").click()
    path = tmp_path / "channels.csv"
    download.value.save_as(path)
    rows = list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8-sig"))))
    assert {row["Code"] for row in rows} == set(CHANNELS)
    assert all(row["Channel"] == channel_label(row["Code"], "en") for row in rows), rows[0]
    cell = page.locator("#drill-channel-table tbody tr", has=page.locator("td[data-dash-column=code]",
                                                                           has_text="douyin"))
    cell.locator("td[data-dash-column=channel]").click()
    page.wait_for_url("**/drill?*channel=douyin*")
    assert urlparse(page.url).path == "/drill"
    assert query(page.url) == {"channel": ["douyin"], "period": ["7d"], "lang": ["en"]}
    page.wait_for_selector("#drill-kpi-leads[data-value]")


def test_long_amounts_fit_their_cards(page, app, tmp_path):
    """English money is written in full: an AUM of 1.2 billion was cut to "1,234,567,89…" in its card."""
    page.set_viewport_size({"width": 1366, "height": 768})
    page.goto(app.url + "/drill/money?lang=en")
    page.wait_for_selector("#drill-kpi-aum[data-value]")
    assert page.get_attribute("#drill-kpi-aum", "data-value") == \
        page.request.get(f"{app.url}/api/v1/kpis").json()["aum"] == "1234567900.00"
    cut = page.evaluate("""() => [...document.querySelectorAll('.drill-kpi-value')]
        .filter(el => el.scrollWidth > el.clientWidth + 1).map(el => el.id + ' ' + el.textContent)""")
    assert cut == []
    page.screenshot(path=str(tmp_path / "drill-money-en-1366.png"), full_page=True)


def test_changes_have_the_walls_colours(page, app):
    """A rise is red and a fall green on the wall (the market's colours); a manager who clicks a red ▲ on
    the wall must not find the same rise green on the drill-down (it was: up green, down red)."""
    page.goto(app.url + "/drill")
    page.wait_for_selector(".drill-delta.up", state="attached")  # today's leads against none yesterday
    colours = page.evaluate("""() => {
        const probe = (outer, inner) => {  // the wall's comparison row, with the same stylesheets
            const a = document.createElement('span'), b = document.createElement('span');
            a.className = outer; b.className = inner; a.appendChild(b); document.body.appendChild(a);
            const colour = getComputedStyle(b).color; a.remove(); return colour; };
        const drill = cls => { const el = document.createElement('span'); el.className = 'drill-delta ' + cls;
            document.querySelector('.drill-kpi-foot').appendChild(el);
            const colour = getComputedStyle(el).color; el.remove(); return colour; };
        return {up: [probe('cmp cmp-up', 'cmp-delta'), drill('up')],
                down: [probe('cmp cmp-down', 'cmp-delta'), drill('down')]}; }""")
    assert colours["up"][0] != colours["down"][0]
    assert colours["up"][0] == colours["up"][1] and colours["down"][0] == colours["down"][1], colours


def test_funnel_step_and_kpi_card_land_on_their_views(page, app, tmp_path):
    page.goto(app.url + "/?lang=en")
    wait_for_bars(page, "wall-funnel-graph")
    click_bar(page, "wall-funnel-graph", 6)  # step 7
    page.wait_for_url("**/drill/funnel?step=7&lang=en")
    page.wait_for_selector("#drill-channel-step-graph .js-plotly-plot")
    assert page.locator("#drill-step .dash-dropdown-value").inner_text().startswith("07")
    assert page.locator(".drill-jump").get_attribute("href") == "/drill/callback?step=7&lang=en"
    page.screenshot(path=str(tmp_path / "landed-step7.png"), full_page=True)

    page.go_back()
    page.wait_for_selector("#wall-funnel-steps .funnel-step")
    page.locator("#wall-funnel-steps .funnel-step").nth(2).click()  # the step-3 cell under the chart
    page.wait_for_url("**/drill/funnel?step=3&lang=en")
    page.go_back()
    page.wait_for_selector("#kpi-card-first_deposits")
    page.locator("#kpi-card-first_deposits").click()
    page.wait_for_url("**/drill/series?metric=first_deposits&lang=en")
    page.wait_for_selector("#drill-series-graph .js-plotly-plot")


def test_province_bar_and_turnover_land_on_funding_and_assets(page, app):
    """AUM by province: a bar opens funding & assets filtered to that province (named as the events name
    it, also when the English wall shows "Guangdong"); the turnover headline opens the same view."""
    page.goto(app.url + "/?lang=en")
    wait_for_bars(page, "wall-province-graph")
    assert page.evaluate("document.querySelector('#wall-province-graph .js-plotly-plot').data[0].y[0]") \
        == "Guangdong"
    click_bar(page, "wall-province-graph", 0)
    page.wait_for_url("**/drill/money?*")
    assert query(page.url) == {"province": ["广东"], "lang": ["en"]}
    page.wait_for_selector("#drill-kpi-aum[data-value]")
    page.go_back()
    page.wait_for_selector("#wall-turnover .turnover-value")
    page.locator("#wall-turnover .turnover-value").click()
    page.wait_for_url("**/drill/money?lang=en")


def test_sub_screen_leaderboard_row_lands_on_its_channel(page, app):
    page.goto(app.url + "/screen/acquisition")
    page.wait_for_selector("table.leaderboard tbody tr td.name .rank")
    # the rows are redrawn every refresh: read the third row and click where it is, as a person does
    label, x, y = page.evaluate("""() => {
        const cell = document.querySelectorAll('table.leaderboard tbody tr')[2].querySelector('td.name');
        const r = cell.getBoundingClientRect();
        return [cell.textContent.slice(cell.querySelector('.rank').textContent.length).trim(),
                r.left + 5 + r.width / 2, r.top + r.height / 2];
    }""")
    code = LABEL_TO_CODE[label]
    page.mouse.click(x, y)
    page.wait_for_url(f"**/drill?channel={code}")


def test_kiosk_wall_does_not_navigate(page, app):
    page.goto(app.url + "/?rotate=600")
    wait_for_bars(page, "wall-channel-graph")
    page.keyboard.press("k")  # kiosk mode on, as a wall is set up (assets/kiosk.js)
    page.wait_for_url("**kiosk=1*")
    page.wait_for_selector("html.ecc-kiosk")
    wait_for_bars(page, "wall-channel-graph")
    click_bar(page, "wall-channel-graph", 0)
    page.locator(".kpi-card").first.click(force=True)
    page.wait_for_timeout(1500)
    assert urlparse(page.url).path == "/" and query(page.url)["kiosk"] == ["1"]


def test_an_alert_link_opens_on_its_channel_step_and_time(page, app):
    start = datetime.now(TZ) - timedelta(hours=1)
    end = datetime.now(TZ) + timedelta(minutes=30)
    link = urlencode({"channel": "douyin", "step": 8, "from": start.isoformat(), "to": end.isoformat()})
    page.goto(f"{app.url}/drill?{link}")
    page.wait_for_selector("#drill-kpi-leads[data-value]")
    assert page.locator("#drill-period input[value=custom]:checked").count() == 1
    assert page.locator("#drill-step .dash-dropdown-value").inner_text().startswith("08")
    assert page.locator("#drill-step-row-8.selected").count() == 1
    assert page.locator(".drill-problems").count() == 0
