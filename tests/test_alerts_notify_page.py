"""The on-call alerts page (/alerts) in a real browser (Playwright + Debian chromium) over a real app
server on 127.0.0.1, a real SQLite metadata database and a real HTTP receiver.

Ack, silence and the receiver editing go through the page's buttons and are checked in the database.
"""

from __future__ import annotations

import json
import threading
import time

import pytest
from notify_receivers import BOX, KEY, Robots

from ecc import metadata
from ecc.alerts import receivers
from ecc.alerts.receivers_api import create_notify_api
from ecc.config import Settings
from layouts.app import create_app

store = pytest.importorskip("ecc.alerts.store")
models = pytest.importorskip("ecc.alerts.models")
pytestmark = pytest.mark.browser

SECRET = "SECpage-secret-never-shown"
BROWSER_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",  # as test_wall_browser
                "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def _add_alert(engine, **fields) -> int:
    from sqlalchemy.orm import Session

    now = int(time.time() * 1000)
    base = {"rule_id": 1, "kind": "step_conversion_drop", "channel": "douyin", "step": 8, "state": "firing",
            "active_key": f"1:douyin:8:{now}", "started_ms": now - 300_000, "fired_ms": now - 120_000,
            "window_ms": 1_800_000, "observed": 0.42, "baseline": 0.6, "sample": 1234, "p_value": 0.00002}
    with Session(engine) as session, session.begin():
        alert = models.Alert(**{**base, **fields})
        session.add(alert)
        session.flush()
        return alert.id


class PageApp:
    def __init__(self, tmp_path) -> None:
        from werkzeug.serving import make_server

        self.engine = metadata.connect(f"sqlite:///{tmp_path / 'meta.sqlite3'}")
        metadata.migrate(self.engine)
        settings = Settings(data_dir=str(tmp_path), phone_hash_key="k", public_url="https://ecc.example.com",
                            secret_key=KEY)
        api = create_notify_api(self.engine, settings, sweep_interval=None)
        app = create_app(settings, lambda: {},
                         extra_setup=lambda dash_app: dash_app.server.register_blueprint(api))
        self.server = make_server("127.0.0.1", 0, app.server, threaded=True)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.server.server_port}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def page_app(tmp_path_factory):
    app = PageApp(tmp_path_factory.mktemp("alerts-page"))
    yield app
    app.close()


@pytest.fixture(scope="module")
def robots():
    server = Robots(secret=SECRET)
    yield server
    server.close()


@pytest.fixture(scope="module")
def alerts_browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path="/usr/bin/chromium", args=BROWSER_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def tab(alerts_browser):
    errors: list[str] = []
    p = alerts_browser.new_page(viewport={"width": 1920, "height": 1080})
    p.on("pageerror", lambda error: errors.append(f"pageerror: {error}"))
    p.on("console", lambda msg: errors.append(f"console: {msg.text}") if msg.type == "error" else None)
    yield p
    p.close()
    assert errors == []


def test_on_call_sees_acks_and_silences_an_alert(page_app, tab, tmp_path):
    from playwright.sync_api import expect

    page = tab

    alert_id = _add_alert(page_app.engine)
    page.goto(page_app.url + "/alerts")
    row = page.locator(f"#ap-alert-{alert_id}")
    expect(page.locator("h1")).to_have_text("告警值班")
    expect(row).to_contain_text("告警中", timeout=8000)
    for text in ("断点转化率下降", "抖音", "8 · 视频见证", "42.0% / 60.0%", "1,234", "< 0.0001"):
        expect(row).to_contain_text(text)
    assert "channel=douyin" in row.locator("a.ap-link").get_attribute("href")
    page.screenshot(path=str(tmp_path / "alerts-zh.png"))

    row.locator(".ap-btn-ack").click()
    expect(page.locator("#ap-op-msg")).to_contain_text(f"已确认告警 {alert_id}")
    expect(row.locator(".ap-btn-ack")).to_have_count(0)
    [acked] = [a for a in store.list_alerts(page_app.engine) if a["id"] == alert_id]
    assert acked["acked_by"] == "local"

    row.locator(".ap-btn-silence").click()
    expect(page.locator("#ap-op-msg")).to_contain_text("已静默")
    [silence] = store.list_silences(page_app.engine)
    assert silence["matchers"] == {"kind": "step_conversion_drop", "channel": "douyin", "step": 8}
    page.get_by_text("静默", exact=True).first.click()  # the silences tab
    silences = page.locator("#ap-silences")
    expect(silences).to_contain_text("断点转化率下降 · 抖音 · 8 · 视频见证")
    silences.locator(".ap-btn-sil-del").click()
    expect(page.locator("#ap-op-msg")).to_contain_text(f"已删除静默 {silence['id']}")
    assert store.list_silences(page_app.engine) == []


def test_admin_adds_tests_and_disables_a_receiver_without_seeing_its_secret(page_app, tab, robots):
    from playwright.sync_api import expect

    page = tab

    page.goto(page_app.url + "/alerts?lang=en")
    expect(page.locator("h1")).to_have_text("On-call alerts")
    page.get_by_text("Receivers", exact=True).click()
    page.locator("#ap-rcv-url").fill(robots.url + "/webhook")
    page.locator("#ap-rcv-name").fill("on-call group")
    page.locator("#ap-rcv-secret").fill(SECRET)
    page.locator("#ap-rcv-add").click()
    expect(page.locator("#ap-admin-msg")).to_contain_text("saved")
    table = page.locator("#ap-receivers")
    expect(table).to_contain_text("on-call group")
    assert SECRET not in page.content()
    [made] = [r for r in receivers.list_receivers(page_app.engine) if r.name == "on-call group"]
    assert SECRET not in made.secret and BOX.open(made.secret) == SECRET and made.kind == "webhook"

    before = len(robots.requests)
    table.locator(".ap-btn-rcv-test").last.click()
    expect(page.locator("#ap-admin-msg")).to_contain_text("test delivered")
    assert [r["verdict"] for r in robots.requests[before:]] == ["ok"], "signed with the stored secret"

    table.locator(".ap-btn-rcv-toggle").last.click()
    expect(page.locator("#ap-admin-msg")).to_contain_text(f"Receiver {made.id} saved")
    assert receivers.get_receiver(page_app.engine, made.id).enabled is False
    page.get_by_text("Delivery log", exact=True).click()
    expect(page.locator("#ap-log")).to_be_visible()


def test_admin_edits_a_rule_and_a_bad_edit_is_refused_with_a_reason(page_app, tab):
    from playwright.sync_api import expect

    page = tab
    store.ensure_defaults(page_app.engine)
    rule = store.list_rules(page_app.engine)[0]
    page.goto(page_app.url + "/alerts")
    page.get_by_text("规则", exact=True).click()
    params = page.locator(f'[id=\'{{"id":{rule["id"]},"type":"ap-rule-params"}}\']')
    expect(params).to_be_visible(timeout=8000)
    changed = {**rule["params"], "mute": [{"days": "sat-sun", "from": "00:00", "to": "23:59"}]}
    params.fill(json.dumps(changed))
    save = page.locator(f'[id=\'{{"id":{rule["id"]},"type":"ap-rule-save"}}\']')
    save.click()
    expect(page.locator("#ap-admin-msg")).to_contain_text(f"规则 {rule['id']} 已保存")
    [stored] = [r for r in store.list_rules(page_app.engine) if r["id"] == rule["id"]]
    assert stored["params"]["mute"] == changed["mute"]

    params.fill("{not json")
    save.click()
    expect(page.locator("#ap-admin-msg")).to_contain_text("失败")
    [unchanged] = [r for r in store.list_rules(page_app.engine) if r["id"] == rule["id"]]
    assert unchanged["params"] == stored["params"]
