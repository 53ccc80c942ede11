"""Real receivers on 127.0.0.1 for the notification tests (tests/test_alerts_notify*.py): an HTTP server
that checks each vendor's payload and signature the way the vendor does (and answers the way it does), a
real SMTP server (aiosmtpd), and the metadata database they share: real SQLite and, where
ECC_TEST_POSTGRES_URL is set, PostgreSQL (the receivers and the delivery log through the Alembic
migrations).
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
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import text

from ecc import metadata
from ecc.alerts import notify, notify_log, receivers
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
