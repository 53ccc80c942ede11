"""`ecc demo` from a new data directory to a full wall (issue 8, item 2), and today's latency meanwhile.

    flock /tmp/ecc-bench.lock .venv/bin/python bench/demo_start.py [--rate 1] [--history-days 8]

Starts `ecc demo --data-dir <new dir>` as a user does and times, from the start of the command:
- web: the app answers `/`;
- today: the live store holds today's leads (the simulator's backfill from midnight);
- full wall: yesterday's and the same day last week's leads in the live store equal what the history
  loader published for them (its log says how many), and the asset stock is there: every number the
  wall compares is real;
- live window: every history day inside the live store's window is complete in Redis;
- comparisons in ClickHouse: yesterday and last week confirmed stored in ClickHouse (the marker file),
  where the wall's same-time comparisons are computed (layouts/context.py);
- stored: every history day confirmed in ClickHouse.
Meanwhile a probe publishes one lead of today to today's topic every 0.5 s (as the door would) and waits
for its `seen:<event_id>` key in Redis: event->Redis latency of today's stream while the history loads,
and after. The probe leads count in that demo's today (a few hundred, in a throwaway data directory).
"""

from __future__ import annotations

import argparse
import json
import logging
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from datetime import date, timedelta
from pathlib import Path

import redis
import requests
from report import load_average, pct, table

from ecc import timeutil
from ecc.config import Settings
from ecc.contract.events import Event
from ecc.live.snapshot import live_days
from ecc.sim import history
from ecc.transport.kafka import Publisher

log = logging.getLogger("bench.demo_start")
PUBLISHED = re.compile(r"history (\d{4}-\d\d-\d\d): (\d+) events \((\d+) leads\) published")
PROBE_EVERY_S = 0.5


def expected_leads(log_path: Path) -> dict[date, int]:
    try:
        text = log_path.read_text(encoding="utf-8")
    except OSError:
        return {}
    return {date.fromisoformat(m[1]): int(m[3]) for m in PUBLISHED.finditer(text)}


class Probe(threading.Thread):
    """One lead of today every PROBE_EVERY_S, timed until Redis has applied it."""

    def __init__(self, bootstrap: str, r: redis.Redis):
        super().__init__(daemon=True)
        self.publisher = Publisher(Settings(kafka_bootstrap=bootstrap))
        self.topic = Settings().topic_events
        self.r = r
        self.samples: list[tuple[float, float]] = []  # (sent at, latency s)
        self.stop = threading.Event()

    def run(self) -> None:
        n = 0
        while not self.stop.is_set():
            n += 1
            event = Event(event_id=f"probe-{n}", type="lead", ts_ms=timeutil.now_ms(), channel="app_store",
                          lead_id=f"Lprobe-{n}", province="上海", device="ios", campaign="apple_search_ads")
            sent = time.monotonic()
            self.publisher.send(self.topic, event.key, event.to_json())
            self.publisher.flush(5)
            while not self.stop.is_set() and not self.r.exists(f"ecc:seen:{event.event_id}"):
                if time.monotonic() - sent > 60:
                    break
                time.sleep(0.005)
            else:
                if not self.stop.is_set():
                    self.samples.append((sent, time.monotonic() - sent))
            self.stop.wait(max(0.0, PROBE_EVERY_S - (time.monotonic() - sent)))


def asset_stock(url: str) -> bool:
    """Whether the wall's AUM has something to show: GET /api/v1/assets (what the wall's context reads,
    layouts/context.py) sums a snapshot."""
    try:
        return float(requests.get(f"{url}/api/v1/assets", timeout=10).json().get("total") or 0) > 0
    except (requests.RequestException, ValueError):
        return False


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rate", type=float, default=1.0)
    ap.add_argument("--history-days", type=int, default=8)
    ap.add_argument("--port", type=int, default=8179)
    ap.add_argument("--timeout", type=float, default=900.0)
    ap.add_argument("--after", type=float, default=30.0, help="seconds of probing after the history is in")
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    load_before = load_average()
    folder = Path(tempfile.mkdtemp(prefix="h6-demo-start-", dir="/tmp"))
    today = timeutil.today()
    window = {date.fromisoformat(f"{d[:4]}-{d[4:6]}-{d[6:]}") for d in live_days(today, 8)} - {today}
    wanted = history.wanted_days(today, args.history_days)
    focus = [d for d in (today - timedelta(days=1), today - timedelta(days=7)) if d in wanted]
    url = f"http://127.0.0.1:{args.port}"
    t0 = time.monotonic()
    argv = [sys.executable, "-m", "ecc.cli", "--data-dir", str(folder), "demo", "--port", str(args.port),
            "--rate", str(args.rate), "--history-days", str(args.history_days)]
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    marks: dict[str, float] = {}
    probe: Probe | None = None
    try:
        r = None
        while time.monotonic() - t0 < args.timeout and proc.poll() is None:
            now = time.monotonic() - t0
            if "web" not in marks:
                try:
                    if requests.get(url, timeout=2).status_code == 200:
                        marks["web"] = now
                except requests.RequestException:
                    pass
            if r is None and (folder / "runtime.json").exists():
                runtime = json.loads((folder / "runtime.json").read_text())
                r = redis.Redis.from_url(runtime["redis_url"], decode_responses=True)
                probe = Probe(runtime["kafka_bootstrap"], r)
                probe.start()
            if r is not None:
                def leads(d: date, r=r) -> int:
                    return int(r.hget(f"ecc:{d:%Y%m%d}:c", "leads") or 0)
                want = expected_leads(folder / "logs" / "history.log")
                if "today" not in marks and leads(today) > 0:
                    marks["today"] = now
                if "full wall" not in marks and all(d in want and leads(d) == want[d] for d in focus) \
                        and "today" in marks and asset_stock(url):
                    marks["full wall"] = now
                if "live window" not in marks and len(want) == len(wanted) and \
                        all(leads(d) == want[d] for d in wanted if d in window):
                    marks["live window"] = now
            try:
                stored = set(json.loads((folder / history.MARKER).read_text())["stored"])
            except (OSError, ValueError, KeyError):
                stored = set()
            if "comparisons in ClickHouse" not in marks and {d.isoformat() for d in focus} <= stored:
                marks["comparisons in ClickHouse"] = now  # the wall's 同比/环比 read them there
            if "stored" not in marks and {d.isoformat() for d in wanted} <= stored:
                marks["stored"] = now
            if "stored" in marks and "live window" in marks and now > max(marks.values()) + args.after:
                break
            time.sleep(0.25)
    finally:
        if probe is not None:
            probe.stop.set()
            probe.join(10)
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            proc.kill()
        history_log = folder / "logs" / "history.log"
        published = expected_leads(history_log)
        text = history_log.read_text(encoding="utf-8") if history_log.exists() else ""
        events = sum(int(m[2]) for m in PUBLISHED.finditer(text))
        shutil.rmtree(folder, ignore_errors=True)
    load_after = load_average()
    print(table(f"ecc demo --rate {args.rate:g} --history-days {args.history_days}: seconds from the command",
                ["milestone", "s"], [[k, f"{v:.1f}"] for k, v in marks.items()]))
    print(f"history published: {len(published)} days, {events:,} events")
    if probe is not None and probe.samples:
        loading_end = t0 + marks.get("live window", float("inf"))
        phases = {"while the history loads": [lat for s, lat in probe.samples if s < loading_end],
                  "after": [lat for s, lat in probe.samples if s >= loading_end]}
        print()
        print(table("today's event->Redis latency (probe lead every 0.5 s), ms",
                    ["phase", "probes", "p50", "p95", "p99", "max"],
                    [[k, len(v), *(f"{pct(v, q) * 1000:.0f}" for q in (.5, .95, .99)), f"{max(v) * 1000:.0f}"]
                     for k, v in phases.items() if v]))
    print(f"\nload average {load_before:.2f} before, {load_after:.2f} after")
    return 0 if "full wall" in marks else 1


if __name__ == "__main__":
    sys.exit(main())
