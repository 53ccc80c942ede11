"""Notifications against real receivers on 127.0.0.1: an HTTP server that checks each vendor's payload and
signature the way the vendor does (and answers the way it does), and a real SMTP server (aiosmtpd).

The metadata database is real SQLite and, where ECC_TEST_POSTGRES_URL is set, PostgreSQL (the receivers
and the delivery log through the Alembic migrations).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
import socket
import threading
import time
import uuid
from email import message_from_bytes, policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import text

from ecc import metadata
from ecc.alerts import messages, notify, notify_log, receivers
from ecc.alerts.receivers_secrets import SecretBox
from ecc.config import Settings

URLS = ["sqlite"] + ([os.environ["ECC_TEST_POSTGRES_URL"]] if os.environ.get("ECC_TEST_POSTGRES_URL") else [])
PUBLIC_URL = "https://ecc.example.com/"
SECRET = "SECtest-signing-secret"
# The key that seals receivers' secrets: random per run, as an installation's is (never one in the code).
KEY = secrets.token_urlsafe(32)
BOX = SecretBox([KEY])


def alert(alert_id: int, **changes) -> dict:
    """An alert in the API shape (docs/api.md), as the evaluator hands it over."""
    base = {"id": alert_id, "rule_id": 3, "kind": "step_conversion_drop", "channel": "douyin", "step": 8,
            "state": "firing", "started_at": "2026-11-27T06:03:05.000+00:00", "resolved_at": None,
            "observed": 0.42, "baseline": 0.6, "sample": 1234, "p_value": 0.00002, "acked_by": None,
            "silenced": False,
            "link": "/drill?channel=douyin&step=8&from=2026-11-27T13:48:05%2B08:00"
                    "&to=2026-11-27T14:18:05%2B08:00"}
    return {**base, **changes}


# ---------------------------------------------------------------------------------------------------------
# Receivers: one HTTP server plays every robot, judging a request as the vendor would.

def _dingtalk_expected(secret: str, timestamp: str) -> str:
    digest = hmac.new(secret.encode(), f"{timestamp}\n{secret}".encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def _feishu_expected(secret: str, timestamp: str) -> str:
    digest = hmac.new(f"{timestamp}\n{secret}".encode(), b"", hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


class Robots:
    """Paths: /webhook, /wecom, /dingtalk, /feishu answer as those services do; /fail/<n> answers 500
    n times then 200; /down answers 500 always; /slow sleeps 3 s. Every request is recorded with the time
    it arrived and the verdict."""

    def __init__(self, secret: str = SECRET) -> None:
        self.secret = secret
        self.requests: list[dict] = []
        self.lock = threading.Lock()
        self.fail_counts: dict[str, int] = {}
        robots = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # quiet
                pass

            def do_POST(self):
                length = int(self.headers.get("Content-Length", 0))
                body = self.rfile.read(length)
                # recorded on arrival (a slow answer must not land in a later test's window)
                # header names lower-cased: HTTP's are case-insensitive (urllib sends "X-ecc-signature")
                headers = {k.lower(): v for k, v in self.headers.items()}
                record = {"path": self.path, "headers": headers, "body": body,
                          "at": time.monotonic(), "verdict": None}
                with robots.lock:
                    robots.requests.append(record)
                status, answer, record["verdict"] = robots.judge(self.path, headers, body)
                data = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.server.server_port}"

    def judge(self, path: str, headers: dict, body: bytes) -> tuple[int, dict, str]:
        parts = urlsplit(path)
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        name = parts.path.strip("/")
        payload = json.loads(body)
        if name == "webhook":
            if "x-ecc-signature" in headers:
                ts = headers["x-ecc-timestamp"]
                want = "sha256=" + hmac.new(self.secret.encode(), f"{ts}.".encode() + body,
                                            hashlib.sha256).hexdigest()
                if not hmac.compare_digest(want, headers["x-ecc-signature"]):
                    return 401, {"error": "bad signature"}, "bad signature"
            return 200, {"ok": True}, "ok"
        if name == "wecom":
            if query.get("key") != "robot-key":
                return 200, {"errcode": 93000, "errmsg": "invalid webhook url"}, "bad key"
            content = payload.get("markdown", {}).get("content", "")
            if payload.get("msgtype") != "markdown" or not content:
                return 200, {"errcode": 40008, "errmsg": "invalid message type"}, "bad type"
            if len(content.encode()) > 4096:
                return 200, {"errcode": 40058, "errmsg": "markdown.content exceed max length"}, "too long"
            return 200, {"errcode": 0, "errmsg": "ok"}, "ok"
        if name == "dingtalk":
            ts = query.get("timestamp", "")
            if not ts or abs(int(ts) - time.time() * 1000) > 3600_000:
                return 200, {"errcode": 310000, "errmsg": "invalid timestamp"}, "bad timestamp"
            if not hmac.compare_digest(query.get("sign", ""), _dingtalk_expected(self.secret, ts)):
                return 200, {"errcode": 310000, "errmsg": "sign not match"}, "bad sign"
            if payload.get("msgtype") != "markdown" or not payload["markdown"].get("title"):
                return 200, {"errcode": 40035, "errmsg": "missing parameter"}, "bad body"
            return 200, {"errcode": 0, "errmsg": "ok"}, "ok"
        if name == "feishu":
            ts = payload.get("timestamp", "")
            if not ts or abs(int(ts) - time.time()) > 3600:
                return 200, {"code": 19021, "msg": "sign match fail or timestamp is not within one hour"}, \
                    "bad timestamp"
            if not hmac.compare_digest(payload.get("sign", ""), _feishu_expected(self.secret, ts)):
                return 200, {"code": 19021, "msg": "sign match fail or timestamp is not within one hour"}, \
                    "bad sign"
            if payload.get("msg_type") != "post":
                return 200, {"code": 19002, "msg": "params error"}, "bad body"
            return 200, {"code": 0, "data": {}, "msg": "success"}, "ok"
        if name.startswith("fail/"):
            with self.lock:
                seen = self.fail_counts.get(name, 0)
                self.fail_counts[name] = seen + 1
            if seen < int(name.split("/")[1]):
                return 500, {"error": "temporarily broken"}, "500"
            return 200, {"ok": True}, "ok"
        if name == "down":
            return 500, {"error": "broken"}, "500"
        if name == "slow":
            time.sleep(3)
            return 200, {"ok": True}, "ok"
        return 404, {"error": "no such robot"}, "404"

    def received(self, prefix: str) -> list[dict]:
        with self.lock:
            return [r for r in self.requests if r["path"].lstrip("/").startswith(prefix)]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class Mailbox:
    """A real SMTP server on 127.0.0.1 (aiosmtpd) that keeps what it is sent."""

    def __init__(self, password: str | None = None) -> None:
        """With `password`, the server requires AUTH (user "ecc") before it takes mail."""
        from aiosmtpd.controller import Controller
        from aiosmtpd.smtp import AuthResult

        self.messages: list[tuple[list[str], bytes]] = []
        box = self

        def authenticator(server, session, envelope, mechanism, auth_data):
            ok = auth_data.login == b"ecc" and auth_data.password == (password or "").encode()
            return AuthResult(success=ok)

        class Handler:
            async def handle_DATA(self, server, session, envelope):
                box.messages.append((list(envelope.rcpt_tos), envelope.original_content or envelope.content))
                return "250 OK"

        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        auth = {"authenticator": authenticator, "auth_required": True, "auth_require_tls": False} \
            if password else {}
        self.controller = Controller(Handler(), hostname="127.0.0.1", port=port, **auth)
        self.controller.start()
        self.url = f"smtp://127.0.0.1:{port}"

    def close(self) -> None:
        self.controller.stop()


@pytest.fixture(scope="module")
def robots():
    server = Robots()
    yield server
    server.close()


@pytest.fixture
def mailbox():
    box = Mailbox()
    yield box
    box.close()


@pytest.fixture(params=URLS)
def engine(request, tmp_path):
    if request.param == "sqlite":
        eng = metadata.connect(f"sqlite:///{tmp_path / 'meta' / 'ecc.sqlite3'}")
        metadata.migrate(eng)
        yield eng
        return
    schema = f"ecc_test_{uuid.uuid4().hex[:8]}"
    admin = metadata.connect(request.param)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))  # generated identifier, not input
    eng = metadata.connect(request.param).execution_options(schema_translate_map={None: schema})
    metadata.migrate(eng)
    yield eng
    notify.wait_idle(10)
    with admin.begin() as conn:
        conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))


def settings_for(tmp_path, **changes) -> Settings:
    base = {"data_dir": str(tmp_path), "phone_hash_key": "test-key", "public_url": PUBLIC_URL,
            "secret_key": KEY, "notify_backoff_s": 0.2, "notify_attempts": 3, "notify_timeout_s": 2.0}
    return Settings(**{**base, **changes})


def add(engine, body: dict) -> dict:
    return receivers.create_receiver(engine, body, BOX)


def log_of(engine, receiver_id: int) -> list[dict]:
    return [d for d in notify_log.list_deliveries(engine, limit=1000) if d["receiver_id"] == receiver_id]


# ---------------------------------------------------------------------------------------------------------

def test_every_format_gets_one_message_per_group_with_the_evidence(engine, robots, mailbox, tmp_path):
    made = {
        "webhook": add(engine, {"kind": "webhook", "url": robots.url + "/webhook",
                                                      "secret": SECRET}),
        "wecom": add(engine, {"kind": "wecom", "url": robots.url + "/wecom?key=robot-key"}),
        "dingtalk": add(engine, {"kind": "dingtalk", "secret": SECRET,
                                                       "url": robots.url + "/dingtalk?access_token=tok"}),
        "feishu": add(engine, {"kind": "feishu", "url": robots.url + "/feishu",
                                                     "secret": SECRET}),
        "email": add(engine, {"kind": "email", "to": "oncall@example.com, boss@example.com",
                                                    "url": mailbox.url}),
    }
    before = len(robots.requests)
    group = [alert(101), alert(102, channel="wechat", step=5, observed=0.3, baseline=0.5, sample=800)]
    started = time.monotonic()
    notify.submit(engine, settings_for(tmp_path), group, "firing")
    assert time.monotonic() - started < 0.1, "submit must not wait for the receivers"
    assert notify.wait_idle(20)

    for kind in ("webhook", "wecom", "dingtalk", "feishu"):
        got = [r for r in robots.requests[before:] if r["path"].lstrip("/").startswith(kind)]
        assert len(got) == 1, f"{kind}: one message for the group of two, got {len(got)}"
        assert got[0]["verdict"] == "ok", f"{kind}: {got[0]['verdict']}"
    assert len(mailbox.messages) == 1
    rcpts, raw = mailbox.messages[0]
    assert sorted(rcpts) == ["boss@example.com", "oncall@example.com"]

    hook = json.loads(robots.received("webhook")[-1]["body"])
    assert "x-ecc-signature" in robots.received("webhook")[-1]["headers"], "signed, and the robot checked it"
    assert hook["transition"] == "firing" and [a["id"] for a in hook["alerts"]] == [101, 102]
    assert len(hook["group_id"]) == 32
    assert hook["alerts"][0]["link"].startswith("https://ecc.example.com/drill?channel=douyin&step=8")
    texts = {
        "webhook": hook["text"],
        "wecom": json.loads(robots.received("wecom")[-1]["body"])["markdown"]["content"],
        "dingtalk": json.loads(robots.received("dingtalk")[-1]["body"])["markdown"]["text"],
        "feishu": json.dumps(json.loads(robots.received("feishu")[-1]["body"])["content"],
                             ensure_ascii=False),
        "email": message_from_bytes(raw, policy=policy.default).get_content(),
    }
    subject = message_from_bytes(raw, policy=policy.default)["Subject"]
    assert "2 条告警触发" in subject
    for kind, body in texts.items():
        for needle in ("断点转化率下降", "抖音", "8 · 视频见证", "42.0%", "60.0%", "-30.0%", "1,234",
                       "< 0.0001", "2026-11-27 14:03:05",  # 06:03:05 UTC in Shanghai
                       "https://ecc.example.com/drill?channel=douyin&step=8", "微信生态", "5 · 风险测评"):
            assert needle in body, f"{kind} message lacks {needle!r}"

    for kind, r in made.items():
        rows = log_of(engine, r["id"])
        assert sorted(d["alert_id"] for d in rows) == [101, 102], kind
        assert {(d["attempt"], d["status"], d["error"]) for d in rows} == {(1, "sent", None)}, kind


def test_dead_receivers_are_retried_with_backoff_and_the_others_still_get_theirs(engine, robots, tmp_path):
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]
    dead = add(engine, {"kind": "webhook", "url": f"http://127.0.0.1:{closed}/hook"})
    broken = add(engine, {"kind": "webhook", "url": robots.url + "/down"})
    flaky = add(engine, {"kind": "webhook", "url": robots.url + f"/fail/1/{uuid.uuid4().hex}"})
    good = add(engine, {"kind": "wecom", "url": robots.url + "/wecom?key=robot-key"})
    before = len(robots.requests)
    settings = settings_for(tmp_path, notify_attempts=3, notify_backoff_s=0.3)
    notify.submit(engine, settings, [alert(7)], "firing")
    assert notify.wait_idle(20)

    # the good receiver got its message at once, whatever the others did
    got = [r for r in robots.requests[before:] if r["path"].startswith("/wecom")]
    assert len(got) == 1 and got[0]["verdict"] == "ok"
    assert [(d["attempt"], d["status"]) for d in log_of(engine, good["id"])] == [(1, "sent")]

    for r, reason in ((dead, "unreachable"), (broken, "HTTP 500")):
        rows = sorted(log_of(engine, r["id"]), key=lambda d: d["attempt"])
        assert [(d["attempt"], d["status"]) for d in rows] == \
            [(1, "retrying"), (2, "retrying"), (3, "failed")]
        assert all(reason in d["error"] for d in rows), rows
    # a receiver that recovers is sent to on its second attempt
    rows = sorted(log_of(engine, flaky["id"]), key=lambda d: d["attempt"])
    assert [(d["attempt"], d["status"]) for d in rows] == [(1, "retrying"), (2, "sent")]
    copies = [json.loads(r["body"]) for r in robots.requests[before:] if r["path"].startswith("/fail/1/")]
    assert len(copies) == 2 and copies[0]["group_id"] == copies[1]["group_id"], "a retry is the same message"

    # exponential backoff: 0.3 s, then 0.6 s between the attempts at the broken receiver
    times = [r["at"] for r in robots.requests[before:] if r["path"] == "/down"]
    assert len(times) == 3
    first, second = times[1] - times[0], times[2] - times[1]
    # (lower bounds are exact: the timer never fires early; upper bounds leave room for a busy machine)
    assert 0.28 <= first < 3 and 0.58 <= second < 4, (first, second)
    # the delivery log is newest first
    ats = [d["at"] for d in notify_log.list_deliveries(engine)]
    assert ats == sorted(ats, reverse=True)


def test_a_hanging_receiver_costs_one_timeout_not_the_others(engine, robots, tmp_path):
    slow = add(engine, {"kind": "webhook", "url": robots.url + "/slow"})
    good = add(engine, {"kind": "webhook", "url": robots.url + "/webhook"})
    started = time.monotonic()
    settings = settings_for(tmp_path, notify_attempts=1, notify_timeout_s=0.5)
    notify.submit(engine, settings, [alert(9)], "firing")
    deadline = time.monotonic() + 2.5
    while time.monotonic() < deadline and not log_of(engine, good["id"]):
        time.sleep(0.02)
    assert [d["status"] for d in log_of(engine, good["id"])] == ["sent"]
    assert time.monotonic() - started < 2.5, "the good receiver does not wait for the hanging one (3 s)"
    assert notify.wait_idle(10)
    rows = log_of(engine, slow["id"])
    assert [d["status"] for d in rows] == ["failed"] and "0.5 s" in rows[0]["error"]


def test_english_receiver_resolved_and_silenced(engine, robots, tmp_path):
    en = add(engine, {"kind": "webhook", "url": robots.url + "/webhook", "lang": "en"})
    zh = add(engine, {"kind": "webhook", "url": robots.url + "/webhook"})
    off = add(engine, {"kind": "webhook", "url": robots.url + "/webhook", "enabled": False})
    before = len(robots.requests)
    resolved = alert(11, state="resolved", resolved_at="2026-11-27T06:30:00+00:00")
    notify.submit(engine, settings_for(tmp_path), [resolved, alert(12, silenced=True)], "resolved")
    assert notify.wait_idle(10)
    bodies = [json.loads(r["body"]) for r in robots.requests[before:]]
    assert len(bodies) == 2, "one per enabled receiver"
    english = next(b for b in bodies if b["lang"] == "en")
    chinese = next(b for b in bodies if b["lang"] == "zh")
    assert "[ECC] 1 alert(s) resolved" in english["text"]
    assert "step conversion drop · Douyin · 8 · video witness" in english["text"]
    assert "Resolved: 2026-11-27 14:30:00" in english["text"]
    assert "已恢复" in chinese["title"]
    assert [a["id"] for a in english["alerts"]] == [11], "a silenced alert is not notified"
    assert log_of(engine, off["id"]) == []
    assert {d["alert_id"] for d in log_of(engine, en["id"]) + log_of(engine, zh["id"])} == {11}


def test_a_group_of_only_silenced_alerts_sends_nothing(engine, robots, tmp_path):
    add(engine, {"kind": "webhook", "url": robots.url + "/webhook"})
    before = len(robots.requests)
    notify.submit(engine, settings_for(tmp_path), [alert(21, silenced=True)], "firing")
    notify.submit(engine, settings_for(tmp_path), [alert(22)], "no-such-transition")
    assert notify.wait_idle(10)
    assert robots.requests[before:] == []


def test_wecom_message_of_a_big_group_stays_within_its_limit(engine, robots, tmp_path):
    add(engine, {"kind": "wecom", "url": robots.url + "/wecom?key=robot-key"})
    before = len(robots.requests)
    notify.submit(engine, settings_for(tmp_path), [alert(1000 + i) for i in range(60)], "repeat")
    assert notify.wait_idle(10)
    [got] = [r for r in robots.requests[before:] if r["path"].startswith("/wecom")]
    assert got["verdict"] == "ok"
    content = json.loads(got["body"])["markdown"]["content"]
    assert "仍未恢复" in content and "另有" in content and len(content.encode()) <= 4096


def test_wrong_secret_is_refused_by_the_vendor_and_logged_without_the_secret(engine, robots, tmp_path):
    r = add(engine, {"kind": "dingtalk", "url": robots.url + "/dingtalk?access_token=t",
                                           "secret": "SECwrong-secret"})
    notify.submit(engine, settings_for(tmp_path, notify_attempts=1), [alert(31)], "firing")
    assert notify.wait_idle(10)
    [row] = log_of(engine, r["id"])
    assert row["status"] == "failed" and "310000" in row["error"] and "sign not match" in row["error"]
    assert "SECwrong" not in json.dumps(notify_log.list_deliveries(engine))


# ---------------------------------------------------------------------------------------------------------
# Pure parts

def test_signatures_match_the_vendors_documented_examples():
    from ecc.alerts.notify_formats import dingtalk_sign, feishu_sign

    assert dingtalk_sign("SECabc", 1700000000000) == _dingtalk_expected("SECabc", "1700000000000")
    assert feishu_sign("abc", 1700000000) == _feishu_expected("abc", "1700000000")
    assert dingtalk_sign("SECabc", 1700000000000) != dingtalk_sign("SECabd", 1700000000000)


def test_message_words_and_numbers():
    msg = messages.render([alert(1, kind="no_data", channel="lead", step=None, observed=185, baseline=60,
                                 sample=None, p_value=None, link="https://x.example/drill")], "firing")
    text_ = msg.plain_text()
    assert "数据中断" in text_ and "185 秒" in text_ and "https://x.example/drill" in text_
    assert "样本量" not in text_ and "p 值" not in text_
    volume = messages.render([alert(2, kind="lead_volume_spike", step=None, observed=1500, baseline=600)],
                             "firing", lang="en", public_url="")
    assert "lead volume spike · Douyin" in volume.plain_text() and "1,500" in volume.plain_text()
    assert volume.alerts[0]["link"].startswith("/drill"), "no public URL: the link stays as it is"
    assert messages.absolute_link("drill?x=1", "https://h/ecc/") == "https://h/ecc/drill?x=1"
    with pytest.raises(ValueError):
        messages.render([alert(3)], "exploded")


def test_an_evaluator_without_settings_still_notifies(engine, robots):
    receivers.create_receiver(engine, {"kind": "webhook", "url": robots.url + "/webhook"})
    before = len(robots.requests)
    notify.submit(engine, None, [alert(41)], "firing")
    assert notify.wait_idle(10)
    assert [r["verdict"] for r in robots.requests[before:]] == ["ok"]


def test_email_through_a_server_that_requires_login_uses_the_secret_as_password(engine, tmp_path):
    box = Mailbox(password="m@il-pass")
    try:
        port = box.url.rsplit(":", 1)[1]
        right = add(engine, {"kind": "email", "to": "oncall@example.com", "secret": "m@il-pass",
                             "url": f"smtp://ecc@127.0.0.1:{port}"})
        wrong = add(engine, {"kind": "email", "to": "oncall@example.com", "secret": "guess",
                             "url": f"smtp://ecc@127.0.0.1:{port}"})
        notify.submit(engine, settings_for(tmp_path, notify_attempts=1), [alert(61)], "firing")
        assert notify.wait_idle(20)
        assert len(box.messages) == 1
        assert [d["status"] for d in log_of(engine, right["id"])] == ["sent"]
        [refused] = log_of(engine, wrong["id"])
        # (aiosmtpd answers a wrong password with 535 or, after smtplib's next mechanism, not at all)
        assert refused["status"] == "failed" and refused["error"].startswith("SMTP")
        assert "guess" not in refused["error"]
    finally:
        box.close()
