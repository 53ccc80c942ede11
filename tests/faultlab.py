"""Fault injection on the real embedded stack: kill -9 a part of `ecc demo` in the middle of a burst and
measure how long Redis (the wall) and ClickHouse (the API) take to agree with the oracle again.

Used by tests/test_faults.py (a short run in CI) and bench/faults.py (the table in docs/benchmarks.md).
Everything runs on 127.0.0.1; every loop is bounded in time.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import requests
from oracle import Oracle
from pii_scan import hostile_events

from ecc import timeutil
from ecc.config import Settings
from ecc.embedded import free_port
from ecc.live.live_store import LiveStore
from ecc.sim import simulate
from ecc.transport.ingest import Door
from ecc.transport.kafka import BrokerError

# kill -9 targets: how to recognise each part of the demo among its children (by command line).
PARTS = {
    "worker": lambda cmd: "ecc.cli" in cmd and " worker" in cmd,
    "web": lambda cmd: "gunicorn" in cmd or ("ecc.cli" in cmd and " web" in cmd),
    "redis": lambda cmd: "valkey" in cmd,
    "broker": lambda cmd: "tansu" in cmd,
}
COMPARED = ("leads", "dialed_leads", "connected_leads", "reach", "opened", "first_deposits",
            "deposit_amount", "net_inflow")
CENT = Decimal("0.01")


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def _parent(pid: int) -> int | None:
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, ValueError, IndexError):
        return None


def children_of(pid: int) -> list[int]:
    return [int(p.name) for p in Path("/proc").iterdir() if p.name.isdigit() and _parent(int(p.name)) == pid]


def descendants(pid: int) -> list[int]:
    found, frontier = [], [pid]
    while frontier:
        frontier = [c for p in frontier for c in children_of(p)]
        found += frontier
    return found


@dataclass
class Demo:
    """`ecc demo --no-simulate` in a subprocess: the supervision that users get is what is tested."""

    data_dir: Path
    phone_key: str = "fault-lab-key"
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 120) -> Demo:
        env = {**os.environ, "ECC_PHONE_HASH_KEY": self.phone_key, "ECC_LOG_LEVEL": "INFO"}
        env.pop("REDIS_URL", None)
        env.pop("KAFKA_BOOTSTRAP_SERVERS", None)
        log = (self.data_dir / "demo.log").open("ab")
        argv = [sys.executable, "-m", "ecc.cli", "--data-dir", str(self.data_dir), "demo", "--no-simulate",
                "--port", str(self.port)]
        self.proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                     env=env)
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"ecc demo exited with {self.proc.returncode}; see {self.data_dir}")
            with contextlib.suppress(requests.RequestException):
                if requests.get(f"{self.url}/api/v1/health", timeout=2).status_code in (200, 503):
                    return self
            time.sleep(0.5)
        raise RuntimeError(f"ecc demo did not serve {self.url} within {timeout}s")

    def stop(self) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        for pid in descendants(self.proc.pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)

    @property
    def settings(self) -> Settings:
        runtime = json.loads((self.data_dir / "runtime.json").read_text())
        return Settings(data_dir=str(self.data_dir), phone_hash_key=self.phone_key,
                        kafka_bootstrap=runtime["kafka_bootstrap"], redis_url=runtime["redis_url"])

    def pid_of(self, part: str) -> int:
        matches = [p for p in children_of(self.proc.pid) if PARTS[part](_cmdline(p))]
        if len(matches) != 1:
            raise RuntimeError(f"expected one {part} process under the demo, found {matches}")
        return matches[0]

    def kill(self, part: str) -> int:
        pid = self.pid_of(part)
        os.kill(pid, signal.SIGKILL)
        return pid


def burst_events(seed: int, n: int) -> list[dict]:
    """About `n` realistic events of today so far (journeys, calls, money, redeliveries, late ones)."""
    now = timeutil.now_ms()
    day_start = int(timeutil.today_period()[0].timestamp() * 1000)
    start = max(day_start, now - 3 * 3_600_000)
    rate = 50.0
    while True:
        config = simulate.SimConfig(seed=seed, rate=rate, duplicates=0.02, late=0.02)
        items = [item for _emit, item in simulate.generate(config, start, now) if not simulate.is_bad(item)]
        if len(items) >= n or rate > 1e6:
            return items[:n]
        rate *= max(2.0, 1.2 * n / max(1, len(items)))


def publish(door: Door, events: list[dict], chunk: int = 1000, on_chunk=None, timeout: float = 120) -> int:
    """Publish like an upstream system that retries what the door did not acknowledge; returns how many
    events the door acknowledged in the end."""
    acked = 0
    deadline = time.monotonic() + timeout
    for i in range(0, len(events), chunk):
        lines = [simulate.to_line(e) for e in events[i:i + chunk]]
        while True:
            try:
                result = door.publish_lines(lines, "file")
                if not getattr(result, "unacknowledged", 0):
                    acked += result.accepted
                    break
            except BrokerError:
                pass
            if time.monotonic() > deadline:
                raise TimeoutError("the door did not acknowledge the burst in time")
            time.sleep(0.5)
        if on_chunk is not None:
            on_chunk(i // chunk)
    return acked


def expected(events: list[dict]) -> dict:
    start, _now = timeutil.today_period()
    return _normal(Oracle(events).kpis(start, start + timedelta(days=1)))


def _normal(view: dict) -> dict:
    out = {f: view[f] for f in COMPARED}
    out["reach"] = {str(k): v for k, v in out["reach"].items()}
    for money in ("deposit_amount", "net_inflow"):
        out[money] = Decimal(str(out[money])).quantize(CENT)
    return out


def observed(demo: Demo) -> tuple[dict | None, dict | None]:
    """(Redis's totals, ClickHouse's KPIs) for today, None for a store that cannot answer now."""
    redis_view = ch_view = None
    with contextlib.suppress(Exception):
        snap = LiveStore.from_url(demo.settings.redis_url).snapshot()
        if snap.get("live_state", {}).get("state", "ok") == "ok":
            redis_view = _normal(snap["totals"])
    with contextlib.suppress(requests.RequestException, ValueError, KeyError):
        resp = requests.get(f"{demo.url}/api/v1/kpis", timeout=10)
        if resp.ok:
            ch_view = _normal(resp.json())
    return redis_view, ch_view


@dataclass
class FaultResult:
    fault: str
    events: int  # acknowledged by the door in this run
    redis_s: float | None  # from the kill until Redis equals the oracle (None: not within the timeout)
    clickhouse_s: float | None
    leads_lost_redis: int  # oracle leads minus what the store shows at the end (all runs so far)
    leads_lost_clickhouse: int
    restarted: bool  # the killed part was running again (a new pid) at the end

    def row(self) -> list[str]:
        secs = lambda v: "—" if v is None else f"{v:.1f}"  # noqa: E731
        return [self.fault, str(self.events), secs(self.redis_s), secs(self.clickhouse_s),
                str(self.leads_lost_redis), str(self.leads_lost_clickhouse),
                "yes" if self.restarted else "no"]


def post_hostile(demo: Demo, tag: str) -> list[dict]:
    """POST the hostile lines of tests/pii_scan.py to the HTTP door; returns the events it accepted (as
    sent: the oracle only counts them) and checks that every other line got its own reason."""
    lines = hostile_events(tag=tag)
    resp = requests.post(f"{demo.url}/api/v1/events", data=b"\n".join(lines),
                         headers={"Content-Type": "application/x-ndjson"}, timeout=60)
    body = resp.json()
    assert resp.status_code == 200 and body["broker_durable"] is False, body  # the demo's tansu: memory
    refused = {err["index"] for err in body["errors"]}
    assert body["rejected"] == len(refused) and body["accepted"] + body["rejected"] == len(lines), body
    return [json.loads(line) for i, line in enumerate(lines) if i not in refused]


def run_fault(demo: Demo, fault: str, history: list[dict], events: list[dict],
              timeout: float = 60) -> FaultResult:
    """Publish `events` while injecting `fault` a third of the way in: kill -9 of "worker", "web",
    "redis" or "broker", "hostile" (the hostile lines POSTed beside the burst) or "none". Then wait until
    both stores equal the oracle over `history` + what was accepted (appended to `history`)."""
    door = Door(demo.settings)
    injected: dict[str, float | int] = {}
    hostile: list[dict] = []
    chunks = max(1, len(events) // 1000)

    def on_chunk(i: int) -> None:
        if fault == "none" or i != chunks // 3 or injected:
            return
        injected["at"] = time.monotonic()
        if fault == "hostile":
            hostile.extend(post_hostile(demo, f"h{len(history)}"))
        else:
            injected["pid"] = demo.kill(fault)
    acked = {}

    def send() -> None:
        acked["n"] = publish(door, events, on_chunk=on_chunk)
    sender = threading.Thread(target=send, daemon=True)
    sender.start()
    sender.join(timeout + 120)
    history.extend(events + hostile)
    want = expected(history)
    t0 = injected.get("at", time.monotonic())
    redis_s = ch_s = None
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and (redis_s is None or ch_s is None):
        redis_view, ch_view = observed(demo)
        if redis_s is None and redis_view == want:
            redis_s = time.monotonic() - t0
        if ch_s is None and ch_view == want:
            ch_s = time.monotonic() - t0
        time.sleep(0.5)
    redis_view, ch_view = observed(demo)
    restarted = True
    if "pid" in injected:
        with contextlib.suppress(RuntimeError):
            restarted = demo.pid_of(fault) != injected["pid"]
    return FaultResult(fault, acked.get("n", 0) + len(hostile), redis_s, ch_s,
                       want["leads"] - (redis_view or {"leads": 0})["leads"],
                       want["leads"] - (ch_view or {"leads": 0})["leads"], restarted)


# ---- leak scan: every place a phone could end up, after a hostile scenario ----

def clickhouse_dump(data_dir: Path) -> str:
    """Every row of every table in ClickHouse's database (rollups included, aggregate states as their
    serialised bytes), read in a child process: chDB allows one path per process and the demo holds it
    while it runs, so stop the demo first."""
    script = Path(__file__).with_name("chdb_dump.py")
    run = subprocess.run([sys.executable, str(script), f"chdb://{data_dir / 'chdb'}"], capture_output=True,
                         text=True, timeout=120)
    assert run.returncode == 0, run.stderr[-2000:]
    assert "events\n" in run.stdout and "rejects\n" in run.stdout, run.stdout[:500]
    return run.stdout


def topics_dump(settings: Settings, timeout: float = 20) -> str:
    from ecc.transport import kafka

    reader = kafka.consumer(settings, f"leak-scan-{time.monotonic_ns()}",
                            [settings.topic_raw, settings.topic_events, settings.topic_rejects])
    out, quiet_since = [], time.monotonic()
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline and time.monotonic() - quiet_since < 3:
            batch = [m for m in reader.consume(1000, 0.5) if not m.error()]
            if batch:
                quiet_since = time.monotonic()
            out += [(m.key() or b"").decode("utf-8", "replace") + " " + m.value().decode("utf-8", "replace")
                    for m in batch]
    finally:
        reader.close()
    return "\n".join(out)


def redis_dump(url: str) -> str:
    import redis

    r = redis.Redis.from_url(url, decode_responses=True)
    out = []
    for key in r.scan_iter(count=1000):
        kind = r.type(key)
        value = {"string": r.get, "hash": r.hgetall, "set": r.smembers, "list": lambda k: r.lrange(k, 0, -1),
                 "zset": lambda k: r.zrange(k, 0, -1)}.get(kind, lambda k: "")(key)
        out.append(f"{key} {value}")
    return "\n".join(out)


def api_dump(url: str) -> str:
    paths = ["/api/v1/kpis", "/api/v1/channels", "/api/v1/funnel", "/api/v1/assets",
             "/api/v1/rejects?limit=1000", "/api/v1/series?metric=leads", "/api/v1/health", "/metrics"]
    paths += [f"/api/v1/funnel/dropped?step={k}" for k in range(1, 11)]
    out = [requests.get(url + p, timeout=30).text for p in paths]
    out += [requests.get(url + f"/api/v1/funnel/dropped?step={k}", headers={"Accept": "text/csv"},
                         timeout=30).text for k in range(1, 11)]
    return "\n".join(out)


def logs_dump(data_dir: Path) -> str:
    return "\n".join(p.read_text(errors="replace") for p in sorted(data_dir.rglob("*.log")) if p.is_file())
