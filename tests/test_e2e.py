"""The whole embedded stack, as `ecc demo` runs it: ingest a scenario with known answers, then check the
API (ClickHouse), the wall screen in a real browser (Redis) and the dead-letter list against the oracle."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from datetime import datetime, timedelta

import pytest
import requests
from oracle import Oracle

from ecc import timeutil
from ecc.embedded import Stack, free_port
from ecc.live.live_store import LiveStore
from ecc.sim import simulate

pytestmark = [pytest.mark.e2e]
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    from ecc.config import Settings

    data = tmp_path_factory.mktemp("stack")
    with Stack(Settings(data_dir=str(data), phone_hash_key="e2e"), port=free_port(), simulate=False) as s:
        yield s


@pytest.fixture(scope="module")
def scenario(tmp_path_factory):
    """40 minutes of simulated traffic ending now, with redeliveries, late events and bad lines."""
    now = timeutil.now_ms()
    config = simulate.SimConfig(seed=7, rate=5, duplicates=0.05, late=0.05, bad=0.03)
    # A "future" timestamp is future only at its emission time; replayed from a file it may be past.
    items = [item for emit, item in simulate.generate(config, now - 40 * 60_000, now)
             if not (simulate.is_bad(item) and stamped_after(item, emit))]
    path = tmp_path_factory.mktemp("scenario") / "scenario.jsonl"
    path.write_text("".join(simulate.to_line(i) + "\n" for i in items), encoding="utf-8")
    events = [i for i in items if not simulate.is_bad(i)]
    bad = [i for i in items if simulate.is_bad(i)]
    assert len({e["event_id"] for e in events}) < len(events) and bad, \
        "scenario lacks duplicates or bad lines"
    return path, events, bad


def stamped_after(line: str, emit_ms: int) -> bool:
    try:
        obj = json.loads(line)
        return datetime.fromisoformat(obj["ts"]).timestamp() * 1000 > emit_ms + 5 * 60_000
    except (ValueError, KeyError, TypeError):
        return False


def ecc_cli(stack: Stack, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, **stack.settings.to_env()}
    return subprocess.run([sys.executable, "-m", "ecc.cli", *args], env=env, capture_output=True, text=True,
                          timeout=120)


def today_expected(events: list[dict]) -> dict:
    start, _now = timeutil.today_period()
    k = Oracle(events).kpis(start, start + timedelta(days=1))
    return {"leads": k["leads"], "reach": k["reach"], "opened": k["opened"]}


def wait_for(fetch, want, timeout=60.0):
    deadline = time.monotonic() + timeout
    got = None
    while time.monotonic() < deadline:
        got = fetch()
        if got == want:
            return got
        time.sleep(0.5)
    return got


def test_ingest_then_api_wall_and_rejects_agree_with_oracle(stack, scenario):
    path, events, bad = scenario
    run = ecc_cli(stack, "ingest", str(path))
    counts = json.loads(run.stdout.strip().splitlines()[-1])
    assert counts == {"accepted": len(events), "rejected": len(bad)}
    assert run.returncode == 1 and "line " in run.stderr  # rejected lines are reported, exit non-zero

    want = today_expected(events)

    def api():
        k = requests.get(f"{stack.url}/api/v1/kpis", timeout=10).json()
        return {"leads": k["leads"], "reach": k["reach"], "opened": k["opened"]}
    assert wait_for(api, want) == want

    # Caught up, the two stores agree on every number they both hold (Redis: wall; ClickHouse: API).
    fields = ("leads", "dialed_leads", "connected_leads", "reach", "opened", "first_deposits", "rejects")
    live = LiveStore.from_url(stack.settings.redis_url)

    def both():
        k = requests.get(f"{stack.url}/api/v1/kpis", timeout=10).json()
        t = live.snapshot()["totals"]
        return ({f: k[f] for f in fields} | {"money": (k["deposit_amount"], k["net_inflow"])},
                {f: t[f] for f in fields} | {"money": (t["deposit_amount"], t["net_inflow"])})
    clickhouse_view = both()[0]
    assert wait_for(lambda: both()[1], clickhouse_view) == clickhouse_view

    rejects = requests.get(f"{stack.url}/api/v1/rejects?limit=1000", timeout=10).json()
    assert rejects["total"] == len(bad)
    assert all(item["reason"] for item in rejects["items"])
    for item in rejects["items"]:  # no raw mobile number survives in a dead letter
        assert not any(len(tok) == 11 and tok.isdigit() for tok in item["raw"].replace('"', " ").split())

    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1920, "height": 1080})
        page.goto(stack.url)
        page.wait_for_selector("#kpi-leads")

        def wall():
            value = lambda sel: page.get_attribute(sel, "data-value")  # noqa: E731
            return {"leads": int(value("#kpi-leads") or -1),
                    "reach": {str(k): int(value(f"#reach-{k}") or -1) for k in range(1, 12)},
                    "opened": int(value("#kpi-opened") or -1)}
        assert wait_for(wall, want, 30) == want
        assert "线索" in page.inner_text("body")
        page.screenshot(path=str(stack.settings.data_path / "wall.png"))
        browser.close()


def test_http_ingest_keeps_good_events_and_explains_bad_ones(stack):
    now = datetime.now(timeutil.TZ)
    good = {"event_id": "http-1", "type": "lead", "ts": now.isoformat(), "lead_id": "H1", "channel": "wechat",
            "phone": "13900001111"}
    body = [good, {"event_id": "http-2", "type": "lead", "ts": now.replace(tzinfo=None).isoformat(),
                   "lead_id": "H2", "channel": "wechat"},
            {"event_id": "http-3", "type": "deposit", "ts": now.isoformat(), "account_id": "A",
             "amount": "x"}]
    r = requests.post(f"{stack.url}/api/v1/events", json=body, timeout=10)
    assert r.status_code == 200
    assert r.json()["accepted"] == 1 and r.json()["rejected"] == 2
    assert [e["index"] for e in r.json()["errors"]] == [1, 2]
    assert "no UTC offset" in r.json()["errors"][0]["reason"]
    nd = "\n".join([json.dumps({**good, "event_id": "http-4"}), "{broken"])
    r = requests.post(f"{stack.url}/api/v1/events", data=nd.encode(),
                      headers={"Content-Type": "application/x-ndjson"}, timeout=10)
    assert r.json()["accepted"] == 1 and "not valid JSON" in r.json()["errors"][0]["reason"]
    r = requests.post(f"{stack.url}/api/v1/events", data=b"[{", headers={"Content-Type": "application/json"})
    assert r.status_code == 400 and "not valid JSON" in r.json()["error"]
    r = requests.post(f"{stack.url}/api/v1/events", data=b"x", headers={"Content-Type": "text/plain"})
    assert r.status_code == 415
    r = requests.get(f"{stack.url}/api/v1/kpis?from=yesterday", timeout=10)
    assert r.status_code == 400 and "from" in r.json()["error"]


def test_ingest_cli_errors(stack, tmp_path):
    missing = ecc_cli(stack, "ingest", str(tmp_path / "nope.jsonl"))
    assert missing.returncode == 2 and "cannot read" in missing.stderr
    folder = ecc_cli(stack, "ingest", str(tmp_path))
    assert folder.returncode == 2 and "cannot read" in folder.stderr


def test_health_reports_every_component(stack):
    body = requests.get(f"{stack.url}/api/v1/health", timeout=10).json()
    assert body["status"] == "up"
    assert set(body["components"]) >= {"redis", "clickhouse", "broker", "worker", "sink"}
    metrics = requests.get(f"{stack.url}/metrics", timeout=10).text
    assert 'ecc_up{component="clickhouse"} 1' in metrics
