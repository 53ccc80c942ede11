"""End to end: events through the door, tansu, the worker and the sink into chDB; the web process's
evaluator (holding the Redis lease) judges a no_data rule in wall-clock time and the notification reaches
a real webhook receiver on 127.0.0.1."""

from __future__ import annotations

import json
import threading
import time
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests

from ecc import timeutil
from ecc.config import Settings
from ecc.embedded import Stack, free_port

pytestmark = [pytest.mark.e2e]


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    data = tmp_path_factory.mktemp("alerts-stack")
    with Stack(Settings(data_dir=str(data), phone_hash_key="e2e"), port=free_port(), simulate=False) as s:
        yield s


@pytest.fixture
def receiver():
    received: list[dict] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            received.append(json.loads(body))
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(b"{}")

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hook", received
    server.shutdown()


def wait_until(check, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(1)
    raise AssertionError(f"timed out waiting for {what}")


def test_no_data_fires_and_resolves_through_the_whole_stack(stack, receiver):
    url, received = receiver
    api = f"{stack.url}/api/v1"
    for rule in requests.get(f"{api}/alert-rules", timeout=60).json():  # only this test's rule
        assert requests.put(f"{api}/alert-rules/{rule['id']}", json={"enabled": False}, timeout=60).ok
    hook = requests.post(f"{api}/receivers", json={"kind": "webhook", "url": url, "enabled": True},
                         timeout=60)
    assert hook.status_code == 201, hook.text
    rule = requests.post(f"{api}/alert-rules", json={"kind": "no_data", "params": {
        "source": "lead", "max_age_s": 30, "pending_s": 0, "resolve_s": 1, "mute": []}}, timeout=60).json()

    # No lead at all yet: the evaluator (every 10 s) fires, and the receiver hears of it.
    firing = wait_until(lambda: [a for a in requests.get(f"{api}/alerts?state=firing", timeout=60).json()
                                 if a["rule_id"] == rule["id"]], 60, "the no_data alert to fire")
    assert firing[0]["kind"] == "no_data" and firing[0]["silenced"] is False
    wait_until(lambda: any(m["transition"] == "firing" for m in received), 60, "the firing notification")

    # Leads arrive (door -> tansu -> sink -> chDB): the source is fresh again and the alert resolves.
    def post_leads():
        now = datetime.now(timeutil.TZ).isoformat(timespec="milliseconds")
        events = [{"event_id": f"e2e-alert-{time.time_ns()}-{i}", "type": "lead", "ts": now,
                   "lead_id": f"E2E{i}", "channel": "wechat"} for i in range(5)]
        assert requests.post(f"{api}/events", json=events, timeout=60).json()["accepted"] == 5

    def resolved():
        post_leads()
        return [a for a in requests.get(f"{api}/alerts?state=resolved", timeout=60).json()
                if a["id"] == firing[0]["id"]]
    assert wait_until(resolved, 90, "the alert to resolve")
    wait_until(lambda: any(m["transition"] == "resolved" for m in received), 60, "the resolved notification")
    alert_ids = {a["id"] for m in received for a in m["alerts"]}
    assert alert_ids == {firing[0]["id"]}
