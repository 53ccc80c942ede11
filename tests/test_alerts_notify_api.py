"""/api/v1/receivers and /api/v1/notifications over real HTTP (werkzeug on 127.0.0.1), on the metadata
database of test_alerts_notify (SQLite, and PostgreSQL where ECC_TEST_POSTGRES_URL is set)."""

from __future__ import annotations

import json
import threading

import pytest
import requests
from flask import Flask
from notify_receivers import SECRET, Robots, alert, engine, settings_for  # noqa: F401 (fixture)

from ecc.alerts import notify
from ecc.alerts.receivers_api import EXTENSION, create_notify_api


@pytest.fixture
def server(engine, tmp_path):  # noqa: F811 (the fixture imported above)
    from werkzeug.serving import make_server

    app = Flask("notify-api-test")
    settings = settings_for(tmp_path, notify_attempts=2, notify_backoff_s=0.1)
    app.register_blueprint(create_notify_api(engine, settings, sweep_interval=None))
    assert app.extensions[EXTENSION]["engine"] is engine
    srv = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{srv.server_port}", settings
    notify.wait_idle(10)
    srv.shutdown()
    srv.server_close()


@pytest.fixture(scope="module")
def robots():
    server = Robots()
    yield server
    server.close()


def test_receivers_crud_keeps_secrets_write_only(server, robots):
    base, _ = server
    assert requests.get(base + "/api/v1/receivers", timeout=5).json() == []
    made = requests.post(base + "/api/v1/receivers", timeout=5, json={
        "kind": "dingtalk", "url": robots.url + "/dingtalk?access_token=t", "secret": SECRET,
        "name": "值班群"})
    assert made.status_code == 201
    body = made.json()
    assert body == {"id": body["id"], "kind": "dingtalk", "url": robots.url + "/dingtalk?access_token=t",
                    "name": "值班群", "enabled": True, "lang": "", "has_secret": True}
    rid = body["id"]
    mail = requests.post(base + "/api/v1/receivers", timeout=5, json={
        "kind": "email", "to": "a@example.com;b@example.com", "url": "smtp://ecc:pw0rd@127.0.0.1:2525"}).json()
    assert mail["to"] == "a@example.com, b@example.com"
    assert mail["url"] == "smtp://ecc@127.0.0.1:2525"
    assert mail["has_secret"], "the password went to the secret"

    listed = requests.get(base + "/api/v1/receivers", timeout=5)
    assert SECRET not in listed.text and "pw0rd" not in listed.text
    assert [r["id"] for r in listed.json()] == [rid, mail["id"]]

    # a PUT changes only what it sends: the secret stays (the test message still signs correctly)
    changed = requests.put(f"{base}/api/v1/receivers/{rid}", json={"enabled": False, "lang": "en"}, timeout=5)
    assert changed.status_code == 200 and changed.json()["enabled"] is False and changed.json()["has_secret"]
    probe = requests.post(f"{base}/api/v1/receivers/{rid}/test", timeout=10).json()
    assert probe == {"ok": True, "error": None}
    assert json.loads(robots.received("dingtalk")[-1]["body"])["markdown"]["title"] == \
        "[ECC] notification test"

    assert requests.delete(f"{base}/api/v1/receivers/{rid}", timeout=5).status_code == 204
    assert requests.delete(f"{base}/api/v1/receivers/{rid}", timeout=5).status_code == 404
    again = requests.put(f"{base}/api/v1/receivers/{rid}", json={"enabled": True}, timeout=5)
    assert again.status_code == 404
    assert [r["id"] for r in requests.get(base + "/api/v1/receivers", timeout=5).json()] == [mail["id"]]


@pytest.mark.parametrize("body, complaint", [
    ({"kind": "pager", "url": "http://x"}, "kind"),
    ({"kind": "webhook"}, "url"),
    ({"kind": "webhook", "url": "ftp://x/y"}, "url"),
    ({"kind": "email", "to": "not-an-address"}, "to"),
    ({"kind": "email", "to": "a@example.com", "url": "http://smtp"}, "url"),
    ({"kind": "wecom", "url": "https://qyapi.example/hook", "enabled": "yes"}, "enabled"),
    ({"kind": "feishu", "url": "https://open.example/hook", "lang": "fr"}, "lang"),
    ({"kind": "feishu", "url": "https://open.example/hook", "token": "x"}, "token"),
    (["not", "an", "object"], "object"),
])
def test_bad_receivers_are_json_400s(server, body, complaint):
    base, _ = server
    answer = requests.post(base + "/api/v1/receivers", json=body, timeout=5)
    assert answer.status_code == 400
    assert answer.headers["Content-Type"].startswith("application/json")
    assert complaint in json.dumps(answer.json())
    assert requests.get(base + "/api/v1/receivers", timeout=5).json() == []


def test_notifications_log_newest_first_and_filtered(server, robots, engine):  # noqa: F811
    base, settings = server
    good = requests.post(base + "/api/v1/receivers", timeout=5,
                         json={"kind": "webhook", "url": robots.url + "/webhook"}).json()
    bad = requests.post(base + "/api/v1/receivers", timeout=5,
                        json={"kind": "webhook", "url": robots.url + "/down"}).json()
    notify.submit(engine, settings, [alert(501), alert(502)], "firing")
    assert notify.wait_idle(10)
    notify.submit(engine, settings, [alert(501, state="resolved")], "resolved")
    assert notify.wait_idle(10)

    rows = requests.get(base + "/api/v1/notifications", timeout=5).json()
    assert set(rows[0]) >= {"alert_id", "receiver_id", "attempt", "status", "at", "error"}
    assert [r["at"] for r in rows] == sorted((r["at"] for r in rows), reverse=True)
    assert len(rows) == 2 * 1 + 2 * 2 + 1 * 1 + 1 * 2  # good: 2 alerts + 1; bad: 2 attempts each
    failed = requests.get(base + "/api/v1/notifications", params={"status": "failed"}, timeout=5).json()
    assert {(r["receiver_id"], r["alert_id"], r["attempt"]) for r in failed} == \
        {(bad["id"], 501, 2), (bad["id"], 502, 2)}
    assert all(r["error"] == "HTTP 500" for r in failed)
    mine = requests.get(base + "/api/v1/notifications", params={"alert_id": 501, "receiver_id": good["id"]},
                        timeout=5).json()
    assert [(r["status"], r.get("transition")) for r in mine] == [("sent", "resolved"), ("sent", "firing")]
    assert len(requests.get(base + "/api/v1/notifications", params={"limit": 2}, timeout=5).json()) == 2
    for params in ({"limit": 0}, {"limit": "x"}, {"status": "lost"}):
        answer = requests.get(base + "/api/v1/notifications", params=params, timeout=5)
        assert answer.status_code == 400 and "error" in answer.json()


def test_openapi_documents_receivers_and_the_delivery_log_with_the_contract_fields():
    from ecc.web.openapi import document

    paths = document()["paths"]
    receiver = paths["/api/v1/receivers"]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
    assert {"id", "kind", "url", "to", "enabled"} <= set(receiver["items"]["properties"])
    assert "secret" not in receiver["items"]["properties"], "write-only"
    log = paths["/api/v1/notifications"]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
    assert {"alert_id", "receiver_id", "attempt", "status", "at", "error"} <= set(log["items"]["properties"])
    assert {"put", "delete"} <= set(paths["/api/v1/receivers/{id}"])
