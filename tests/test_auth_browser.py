"""Issue 10 in a real browser (Playwright + Debian chromium) against the whole web app with auth on, on a
real HTTP server: login and logout, role limits, and a wall screen on a kiosk token through a rotation
and a reload."""

from __future__ import annotations

import json
import re
import threading

import pytest
from test_wall_browser import BROWSER_ARGS

from ecc import metadata
from ecc.auth import audit, tokens, users
from ecc.live.live_store import LiveStore
from ecc.services import Services
from layouts.server import compose

pytestmark = pytest.mark.browser
PASSWORD = "correct horse battery"
OPERATOR_CALL = {"output": "..ap-op-version.data...ap-op-msg.children..",
                 "outputs": [{"id": "ap-op-version", "property": "data"},
                             {"id": "ap-op-msg", "property": "children"}],
                 "inputs": [], "changedPropIds": [], "state": []}
_POST_JS = """async ([path, body]) => {
  const r = await fetch(path, {method: 'POST', headers: {'Content-Type': 'application/json'},
                               body: JSON.stringify(body)});
  return r.status; }"""


class Server:
    def __init__(self, app) -> None:
        from werkzeug.serving import make_server

        self.server = make_server("127.0.0.1", 0, app.server, threaded=True)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.server.server_port}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)


@pytest.fixture
def site(settings, redis_client, ch):
    settings = settings.with_(auth="on", refresh_ms=500)
    engine = metadata.connect(settings.metadata)
    metadata.migrate(engine)
    for role in ("viewer", "operator", "admin"):
        users.add(engine, role, role, PASSWORD)
    server = Server(compose(settings, Services(settings=settings, live=LiveStore(redis_client), ch=ch,
                                                 meta=engine)))
    server.engine = engine
    yield server
    server.close()


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
def new_page(chromium_browser):
    contexts = []

    def opener():
        context = chromium_browser.new_context(viewport={"width": 1920, "height": 1080})
        contexts.append(context)
        return context.new_page()

    yield opener
    for context in contexts:
        context.close()


def _login(page, site, name: str) -> None:
    page.goto(site.url + "/")
    page.wait_for_url(re.compile(r"/login\?next=%2F"))
    page.fill("#username", name)
    page.fill("#password", PASSWORD)
    page.click("#login-submit")


def test_login_logout_and_the_english_switch(site, new_page):
    from playwright.sync_api import expect

    page = new_page()
    page.goto(site.url + "/screen/funnel")
    page.wait_for_url(re.compile(r"/login\?next=%2Fscreen%2Ffunnel"))
    expect(page.locator("#login-submit")).to_have_text("登录")
    page.click("#lang-switch")
    expect(page.locator("#login-submit")).to_have_text("Log in")
    page.fill("#username", "viewer")
    page.fill("#password", "not the password")
    page.click("#login-submit")
    expect(page.locator("#login-error")).to_have_text("Wrong user name or password")
    page.fill("#password", PASSWORD)
    page.click("#login-submit")
    page.wait_for_url(re.compile(r"/screen/funnel$"))
    expect(page.locator(".screen-funnel")).to_be_visible(timeout=30000)
    cookie = next(c for c in page.context.cookies() if c["name"] == "ecc_session")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Lax"
    assert page.evaluate("document.cookie") == ""  # no script can read the session

    page.goto(site.url + "/logout")
    page.click("#logout-submit")
    page.wait_for_url(re.compile(r"/login"))
    page.goto(site.url + "/")
    page.wait_for_url(re.compile(r"/login\?next="))
    actions = [e.action for e in audit.entries(site.engine)]
    assert {"login", "login.failed", "logout"} <= set(actions)


def test_viewer_cannot_reach_admin_or_ack_operator_and_admin_can(site, new_page):
    from playwright.sync_api import expect

    viewer = new_page()
    _login(viewer, site, "viewer")
    expect(viewer.locator(".screen-wall")).to_be_visible(timeout=30000)
    assert viewer.goto(site.url + "/admin").status == 403
    viewer.goto(site.url + "/")
    expect(viewer.locator(".screen-wall")).to_be_visible(timeout=30000)
    # the operator's callbacks (ack, silence) and the call-back list, from the viewer's own page
    assert viewer.evaluate(_POST_JS, ["/_dash-update-component", OPERATOR_CALL]) == 403
    assert viewer.evaluate(_POST_JS, ["/api/v1/alerts/1/ack", {}]) in (403, 404)
    assert viewer.evaluate("fetch('/api/v1/funnel/dropped?step=2').then(r => r.status)") == 403

    operator = new_page()
    _login(operator, site, "operator")
    expect(operator.locator(".screen-wall")).to_be_visible(timeout=30000)
    assert operator.evaluate(_POST_JS, ["/_dash-update-component", OPERATOR_CALL]) not in (401, 403)
    assert operator.goto(site.url + "/admin").status == 403

    admin = new_page()
    _login(admin, site, "admin")
    admin.goto(site.url + "/admin?lang=en")
    expect(admin.locator("#users-table")).to_contain_text("operator")
    admin.select_option("#create-token select[name=kind]", "kiosk")
    admin.fill("#create-token input[name=label]", "lobby wall")
    admin.click("#create-token button[type=submit]")
    secret = admin.locator("#new-token-secret").inner_text()
    assert secret.startswith(tokens.PREFIX) and tokens.find(site.engine, secret).label == "lobby wall"
    admin.goto(site.url + "/admin?lang=en")
    assert secret not in admin.content()  # shown once


def test_kiosk_token_through_a_rotation_and_a_reload(site, new_page):
    from playwright.sync_api import expect

    view, secret = tokens.create(site.engine, "kiosk", "hall B wall", "admin")
    page = new_page()
    # rotate=8: each screen has time to render on a loaded machine before the next one comes
    page.goto(f"{site.url}/?kiosk=1&rotate=8&screens=wall,funnel&token={secret}")
    expect(page.locator(".screen-wall")).to_be_visible(timeout=30000)
    assert "token" not in page.url and "kiosk=1" in page.url
    page.evaluate("window.eccNoReload = 1")
    page.wait_for_url(re.compile(r"/screen/funnel\?"), timeout=20000)
    expect(page.locator(".screen-funnel")).to_be_visible(timeout=8000)
    page.wait_for_url(re.compile(r"/\?kiosk=1"), timeout=20000)  # and back: callbacks kept answering
    expect(page.locator(".screen-wall")).to_be_visible(timeout=8000)
    assert page.evaluate("window.eccNoReload") == 1
    saved = page.evaluate("window.sessionStorage.getItem('ecc.kiosk')") or ""
    assert "token" not in saved and secret not in json.dumps(page.context.storage_state()["origins"])
    page.reload()
    expect(page.locator(".ecc-screen").first).to_be_visible(timeout=30000)
    assert "/login" not in page.url
    used = tokens.list_all(site.engine)[0]
    assert used.id == view.id and used.last_used_ip == "127.0.0.1" and "Chrome" in used.last_used_agent
    # revoked: the next load goes to the login page
    tokens.revoke(site.engine, view.id)
    page.reload()
    page.wait_for_url(re.compile(r"/login\?next="), timeout=10000)


def test_header_shows_the_user_and_logs_out_hidden_in_kiosk_mode(site, new_page):
    from playwright.sync_api import expect

    page = new_page()
    _login(page, site, "operator")
    expect(page.locator(".screen-wall")).to_be_visible(timeout=30000)
    expect(page.locator("#wall-account-name")).to_have_text("operator")
    expect(page.locator("#wall-logout")).to_have_text("退出")
    # at 1080p the header keeps everything on screen: nothing clipped by the account part
    box = page.locator("#wall-account").bounding_box()
    lang = page.locator(".header-right .lang-switch").bounding_box()
    assert box["x"] + box["width"] <= lang["x"] and lang["x"] + lang["width"] <= 1920
    assert page.evaluate("(() => { const h = document.querySelector('.wall-header');"
                         " return h.scrollWidth <= h.clientWidth; })()")
    page.goto(site.url + "/screen/funnel?lang=en")
    expect(page.locator("#screen-logout")).to_have_text("Log out", timeout=30000)
    page.goto(site.url + "/?kiosk=1")
    expect(page.locator(".screen-wall")).to_be_visible(timeout=30000)
    expect(page.locator("#wall-account")).to_be_hidden()  # kiosk mode hides every control
    page.keyboard.press("k")  # kiosk mode off: the account part is back
    expect(page.locator("#wall-account")).to_be_visible(timeout=30000)
    page.click("#wall-logout")
    page.wait_for_url(re.compile(r"/logout"))
    page.click("#logout-submit")
    page.wait_for_url(re.compile(r"/login"))
    assert page.goto(site.url + "/api/v1/me").status == 401


def test_a_kiosk_token_screen_has_no_account_part(site, new_page):
    from playwright.sync_api import expect

    _, secret = tokens.create(site.engine, "kiosk", "hall C wall", "admin")
    page = new_page()
    page.goto(f"{site.url}/?token={secret}")
    expect(page.locator(".screen-wall")).to_be_visible(timeout=30000)
    assert page.locator("#wall-account").count() == 0
