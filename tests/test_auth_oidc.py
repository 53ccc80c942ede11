"""Issue 10, item 2: single sign-on against a real OIDC provider (tests/oidc_provider.py) on 127.0.0.1.

The whole ECC web app (layouts.server.compose: the guard, the login page, Authlib's client) is served by
a real HTTP server on 127.0.0.1 over real SQLite and Valkey; a requests.Session is the browser and
follows the redirects ECC -> provider -> ECC. Nothing of the client side is replaced.
"""

from __future__ import annotations

import re
import threading
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
import requests
import test_auth_http
from markupsafe import escape
from oidc_provider import OidcProvider
from werkzeug.serving import make_server

from ecc.auth import audit, oidc, sessions, users
from ecc.live.live_store import LiveStore
from ecc.services import Services
from layouts.server import compose

ROLE_MAP = "ecc-admins=admin,ecc-ops=operator,ecc-viewers=viewer"
# The migrated metadata database, on SQLite and (where ECC_TEST_POSTGRES_URL is set) PostgreSQL.
engine = test_auth_http.engine


@pytest.fixture(scope="module")
def provider():
    p = OidcProvider().start()
    yield p
    p.stop()


@pytest.fixture
def idp(provider):
    """The module's provider with its knobs back to a plain sign-in of alice, an ECC admin."""
    provider.user = {"sub": "u-alice", "preferred_username": "alice", "groups": ["staff", "ecc-admins"]}
    provider.userinfo_only, provider.tamper, provider.deny = {}, {}, False
    return provider


class Ecc:
    """ECC served over HTTP on 127.0.0.1 (a real server in a thread)."""

    def __init__(self, app) -> None:
        self.server = make_server("127.0.0.1", 0, app.server, threaded=True)
        self.base = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.thread.join(5)


@pytest.fixture
def start_ecc(idp, settings, engine, redis_client, ch):
    started: list[Ecc] = []

    def start(**oidc) -> Ecc:
        conf = {"oidc_issuer": idp.issuer, "oidc_client_id": idp.client_id,
                "oidc_client_secret": idp.client_secret, "oidc_role_map": ROLE_MAP, **oidc}
        s = settings.with_(auth="on", **conf)
        ecc = Ecc(compose(s, Services(settings=s, live=LiveStore(redis_client), ch=ch, meta=engine)))
        idp.redirect_uris.add(f"{ecc.base}/auth/oidc/callback")
        started.append(ecc)
        return ecc

    yield start
    for ecc in started:
        ecc.stop()


@pytest.fixture
def ecc(start_ecc):
    return start_ecc()


def sign_in(ecc: Ecc, browser: requests.Session | None = None, next_path: str = "/api/v1/me"):
    browser = browser or requests.Session()
    answer = browser.get(f"{ecc.base}/auth/oidc/login?{urlencode({'next': next_path})}", timeout=20)
    return browser, answer


def me(ecc: Ecc, browser: requests.Session) -> requests.Response:
    return browser.get(f"{ecc.base}/api/v1/me", timeout=10)


def refused_with(answer: requests.Response, reason: str) -> bool:
    url = urlsplit(answer.url)
    return url.path == "/login" and parse_qs(url.query).get("error") == [f"sso.{reason}"]


def test_a_user_with_the_admin_claim_signs_in_as_admin(ecc, idp, engine):
    browser, answer = sign_in(ecc)
    assert answer.status_code == 200 and urlsplit(answer.url).path == "/api/v1/me"
    assert [r.status_code for r in answer.history] == [302, 302, 303]  # ECC -> provider -> ECC -> next
    assert answer.json() == {"name": "alice", "role": "admin", "source": "oidc", "kind": "session",
                             "scopes": []}
    user = users.get(engine, "alice")
    assert (user.role, user.source, user.active) == ("admin", "oidc", True)
    login = audit.entries(engine, action="login", actor="alice")
    assert len(login) == 1 and '"oidc"' in login[0].summary and login[0].actor_kind == "session"
    # The admin may do what an admin may: the audit trail is admins' only.
    assert browser.get(f"{ecc.base}/api/v1/audit", timeout=10).status_code == 200
    # the browser holds ECC's own HTTP-only session cookie; the flow cookie is gone
    cookie = next(c for c in browser.cookies if c.name == sessions.COOKIE)
    assert cookie.has_nonstandard_attr("HttpOnly") and FLOW not in browser.cookies


def test_the_role_follows_the_claim_at_every_sign_in(ecc, idp, engine):
    sign_in(ecc)
    idp.user = {**idp.user, "groups": ["ecc-ops"]}
    browser, answer = sign_in(ecc)
    assert answer.json()["role"] == "operator"
    assert browser.get(f"{ecc.base}/api/v1/audit", timeout=10).status_code == 403
    assert users.get(engine, "alice").role == "operator"


def test_no_matching_claim_is_refused_without_a_default_role(ecc, idp, engine):
    idp.user = {**idp.user, "groups": ["staff", "finance"]}
    browser, answer = sign_in(ecc)
    assert refused_with(answer, "no_role")
    assert sessions.COOKIE not in browser.cookies
    assert me(ecc, browser).status_code == 401
    assert users.get(engine, "alice") is None
    failed = audit.entries(engine, action="login.failed", actor="alice")
    assert len(failed) == 1 and "no_role" in failed[0].summary
    # the login page says why, in Chinese by default
    assert "您的账号未被授予本系统的角色" in answer.text and 'id="sso-error"' in answer.text


def test_no_matching_claim_gets_the_default_role_when_configured(start_ecc, idp):
    ecc = start_ecc(oidc_default_role="viewer")
    idp.user = {**idp.user, "groups": ["finance"]}
    browser, answer = sign_in(ecc)
    assert answer.json()["role"] == "viewer"
    assert browser.get(f"{ecc.base}/api/v1/funnel/dropped", timeout=10).status_code == 403  # operator's


def test_roles_from_a_nested_claim(start_ecc, idp):
    ecc = start_ecc(oidc_roles_claim="realm_access.roles", oidc_role_map="ecc-operator=operator")
    idp.user = {"sub": "u-bob", "preferred_username": "bob", "realm_access": {"roles": ["ecc-operator"]}}
    assert sign_in(ecc)[1].json()["role"] == "operator"


def test_groups_only_in_userinfo_are_read_from_there(ecc, idp):
    idp.user = {"sub": "u-carol", "preferred_username": "carol"}
    idp.userinfo_only = {"groups": ["ecc-ops"]}
    assert sign_in(ecc)[1].json() == {"name": "carol", "role": "operator", "source": "oidc",
                                      "kind": "session", "scopes": []}


def _to_callback(ecc: Ecc, browser: requests.Session) -> str:
    """Start a sign-in and let the provider answer, but stop before ECC's callback: its URL."""
    start = browser.get(f"{ecc.base}/auth/oidc/login", allow_redirects=False, timeout=10)
    assert start.status_code == 302 and FLOW in browser.cookies
    at_provider = browser.get(start.headers["Location"], allow_redirects=False, timeout=10)
    assert at_provider.status_code == 302
    callback = at_provider.headers["Location"]
    assert callback.startswith(f"{ecc.base}/auth/oidc/callback?")
    return callback


FLOW = "ecc_oidc_flow"


def _with_state(url: str, state: str) -> str:
    parts = urlsplit(url)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    return f"{parts.scheme}://{parts.netloc}{parts.path}?{urlencode({**query, 'state': state})}"


def test_a_flow_begun_by_one_worker_ends_in_another(start_ecc, idp):
    """Two apps as two gunicorn workers would hold them (each its own Authlib client and memory), one
    Redis and one database: the callback may reach either."""
    first, second = start_ecc(), start_ecc()
    browser = requests.Session()
    callback = _to_callback(first, browser)
    assert browser.get(callback.replace(first.base, second.base, 1), timeout=10).status_code == 200
    assert me(second, browser).json()["name"] == "alice" and me(first, browser).json()["role"] == "admin"


def test_the_providers_key_rotation_needs_no_restart(ecc, idp):
    assert sign_in(ecc)[1].json()["name"] == "alice"  # ECC holds the provider's key set now
    idp.rotate_key()  # a new key id: ECC fetches the key set again
    assert sign_in(ecc)[1].json()["name"] == "alice"
    idp.tamper = {"sign_with_rogue": True}  # and the new key is checked as the old one was
    assert refused_with(sign_in(ecc)[1], "token")


def test_a_tampered_state_is_refused(ecc, idp, engine):
    browser = requests.Session()
    callback = _to_callback(ecc, browser)
    state = parse_qs(urlsplit(callback).query)["state"][0]
    answer = browser.get(_with_state(callback, state[:-1] + ("A" if state[-1] != "A" else "B")), timeout=10)
    assert refused_with(answer, "state") and me(ecc, browser).status_code == 401
    # the untampered callback now fails too: a refused flow is over (its flow cookie was dropped)
    assert refused_with(browser.get(callback, timeout=10), "state")
    assert me(ecc, browser).status_code == 401
    assert users.get(engine, "alice") is None


def test_a_callback_opened_in_another_browser_is_refused(ecc, idp):
    """Login CSRF: the attacker's own code and state, opened in the victim's browser, log nobody in."""
    attacker = requests.Session()
    callback = _to_callback(ecc, attacker)
    victim = requests.Session()
    assert refused_with(victim.get(callback, timeout=10), "state")
    assert me(ecc, victim).status_code == 401
    # and the state was not spent by the victim's attempt: it is bound to the attacker's browser
    assert attacker.get(callback, timeout=10).status_code == 200
    assert me(ecc, attacker).json()["name"] == "alice"


def test_a_state_works_once(ecc, idp):
    browser = requests.Session()
    callback = _to_callback(ecc, browser)
    flow = browser.cookies[FLOW]
    assert browser.get(callback, timeout=10).status_code == 200
    assert me(ecc, browser).json()["role"] == "admin"
    replay = requests.Session()
    replay.cookies.set(FLOW, flow, domain="127.0.0.1", path="/auth/oidc/")
    assert refused_with(replay.get(callback, timeout=10), "state")


@pytest.mark.parametrize("tamper", [
    {"sign_with_rogue": True},  # same key id, another key: only the signature tells
    {"iss": "http://127.0.0.1:1/not-the-issuer"},
    {"aud": "another-client"},
    {"exp_in": -600},  # expired ten minutes ago (past Authlib's two-minute leeway)
    {"nonce": "not-the-nonce-of-this-flow"},
], ids=["other-key", "issuer", "audience", "expired", "nonce"])
def test_an_id_token_that_fails_a_check_is_refused(ecc, idp, engine, tamper):
    idp.tamper = tamper
    issued = idp.issued_id_tokens
    browser, answer = sign_in(ecc)
    assert idp.issued_id_tokens == issued + 1  # the provider did answer: ECC judged the token
    assert refused_with(answer, "token")
    assert me(ecc, browser).status_code == 401 and users.get(engine, "alice") is None
    assert len(audit.entries(engine, action="login.failed")) == 1


def test_the_provider_refusing_ends_the_flow(ecc, idp):
    idp.deny = True
    browser, answer = sign_in(ecc)
    assert refused_with(answer, "denied") and me(ecc, browser).status_code == 401


def test_a_local_account_of_the_same_name_is_not_taken_over(ecc, idp, engine):
    users.add(engine, "alice", "viewer", "a long local password")
    browser, answer = sign_in(ecc)
    assert refused_with(answer, "local_user") and me(ecc, browser).status_code == 401
    assert users.get(engine, "alice").source == "local"


def test_a_disabled_user_stays_out(ecc, idp, engine):
    sign_in(ecc)
    users.disable(engine, "alice")
    browser, answer = sign_in(ecc)
    assert refused_with(answer, "disabled") and me(ecc, browser).status_code == 401


def test_logout_ends_the_session(ecc, idp):
    browser, answer = sign_in(ecc)
    assert answer.json()["name"] == "alice"
    session_id = browser.cookies[sessions.COOKIE]
    out = browser.post(f"{ecc.base}/logout", headers={"Origin": ecc.base}, timeout=10)
    assert out.status_code == 200 and urlsplit(out.url).path == "/login"
    assert me(ecc, browser).status_code == 401
    # ended on the server, not only forgotten by the browser: the old cookie opens nothing
    replay = requests.Session()
    replay.cookies.set(sessions.COOKIE, session_id, domain="127.0.0.1", path="/")
    assert me(ecc, replay).status_code == 401


@pytest.mark.parametrize("next_path", ["//evil.example/x", "/\\evil.example/x", "/\t/evil.example/x",
                                       "/\n/evil.example/x", "https://evil.example/x"])
def test_after_sign_in_only_a_path_of_this_site(ecc, idp, next_path):
    _, answer = sign_in(ecc, next_path=next_path)
    assert answer.history[-1].status_code == 303 and answer.history[-1].headers["Location"] == "/"


def test_the_login_page_offers_sso_when_configured(ecc, start_ecc, idp):
    zh = requests.get(f"{ecc.base}/login?next=/drill", timeout=10).text
    assert "使用单点登录" in zh and 'href="/auth/oidc/login?next=%2Fdrill"' in zh
    en = requests.get(f"{ecc.base}/login?lang=en", timeout=10).text
    assert "Sign in with SSO" in en
    for reason, (zh_text, en_text) in oidc.REFUSALS.items():
        page = f"{ecc.base}/login?error=sso.{reason}"
        assert escape(zh_text) in requests.get(page, timeout=10).text
        assert escape(en_text) in requests.get(f"{page}&lang=en", timeout=10).text
    assert 'id="sso-error"' not in requests.get(f"{ecc.base}/login?error=sso.or", timeout=10).text
    plain = start_ecc(oidc_issuer="")
    page = requests.get(f"{plain.base}/login", timeout=10).text
    assert "sso-login" not in page and 'id="login-form"' in page
    assert requests.get(f"{plain.base}/auth/oidc/login", timeout=10).status_code == 404


def test_an_unreachable_provider_is_a_clear_refusal(start_ecc, idp):
    ecc = start_ecc(oidc_issuer="http://127.0.0.1:9/")  # discard port: nobody answers
    browser, answer = sign_in(ecc)
    assert refused_with(answer, "unavailable") and me(ecc, browser).status_code == 401


# ---- in a real browser ---------------------------------------------------------------------------------

@pytest.mark.browser
def test_sso_in_a_browser_from_the_login_page_to_the_wall_and_out(ecc, idp):
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox",
                                                                               "--disable-gpu"])
        try:
            page = chromium.new_page(viewport={"width": 1920, "height": 1080})
            page.set_default_timeout(60_000)  # a loaded test machine: waits, never a wrong answer
            errors: list[str] = []
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.goto(f"{ecc.base}/")
            expect(page).to_have_url(re.compile(r"/login\?next=%2F$"), timeout=30_000)  # the guard
            page.click("#sso-login")  # 使用单点登录: to the provider and back
            expect(page.locator(".screen-wall")).to_be_visible(timeout=60_000)  # the wall, rendered
            assert urlsplit(page.url).path == "/"
            assert page.evaluate("fetch('/api/v1/me').then(r => r.json())")["source"] == "oidc"
            assert errors == []  # the wall's own callbacks were allowed (a refused one logs a 403)
            page.goto(f"{ecc.base}/logout")
            page.click("#logout-submit")
            expect(page).to_have_url(re.compile(r"/login"), timeout=30_000)
            page.goto(f"{ecc.base}/")
            expect(page).to_have_url(re.compile(r"/login\?next="), timeout=30_000)  # logged out: closed
        finally:
            chromium.close()

