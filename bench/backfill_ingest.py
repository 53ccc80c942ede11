"""The issue's own case: a big backfill of yesterday through `ecc ingest` while the wall shows today.

    flock /tmp/ecc-bench.lock .venv/bin/python bench/backfill_ingest.py [--events 1700000]

Issue 7 measured a 1.7M-event backfill of yesterday through `ecc ingest` leaving the live wall 63-82 s stale
for about two minutes: history and today shared one queue. This starts `ecc demo --no-simulate` on a new
data directory, writes yesterday with the simulator (`ecc simulate --out --date`, the rate chosen to give
about `--events` lines), and runs `ecc ingest` on the file as an operator would. Meanwhile the probe of
bench/demo_start.py publishes one lead of today every 0.5 s and times it until Redis applied it:
today's event->Redis latency before, during and after the backfill; and how long until the live store and
ClickHouse hold yesterday.
"""

from __future__ import annotations

import argparse
import json
import logging
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta
from datetime import time as dt_time
from pathlib import Path

import redis
import requests
from demo_start import Probe
from report import load_average, pct, table

from ecc import timeutil
from ecc.sim import sim_model

log = logging.getLogger("bench.backfill_ingest")


def wait_for(check, timeout: float, every: float = 0.5) -> float | None:
    """Seconds until `check()` is true, or None after `timeout`."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        try:
            if check():
                return time.monotonic() - started
        except (requests.RequestException, redis.RedisError, OSError, ValueError, KeyError):
            pass
        time.sleep(every)
    return None


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--events", type=int, default=1_700_000, help="about this many events of yesterday")
    ap.add_argument("--port", type=int, default=8063)
    ap.add_argument("--after", type=float, default=30.0, help="seconds of probing after the backfill")
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    load_before = load_average()
    folder = Path(tempfile.mkdtemp(prefix="ecc-backfill-", dir="/tmp"))
    yesterday = timeutil.today() - timedelta(days=1)
    # --rate is events/s averaged over a weekday; a weekend day holds sim_model.WEEKEND_LEVEL of that
    noon_ms = int(datetime.combine(yesterday, dt_time(12), timeutil.TZ).timestamp() * 1000)
    rate = args.events / (86_400 * sim_model.day_level(noon_ms))
    lines = folder / "yesterday.jsonl"
    subprocess.run([sys.executable, "-m", "ecc.cli", "simulate", "--out", str(lines), "--date",
                    yesterday.isoformat(), "--rate", f"{rate:.2f}", "--seed", "5"], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    sent = sum(1 for _ in lines.open("rb"))
    url = f"http://127.0.0.1:{args.port}"
    demo = subprocess.Popen([sys.executable, "-m", "ecc.cli", "--data-dir", str(folder / "data"), "demo",
                             "--port", str(args.port), "--no-simulate", "--history-days", "0"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    probe = None
    try:
        if wait_for(lambda: requests.get(f"{url}/api/v1/health", timeout=2).status_code in (200, 503), 120) \
                is None:
            raise SystemExit("the demo did not answer")
        runtime = json.loads((folder / "data" / "runtime.json").read_text())
        r = redis.Redis.from_url(runtime["redis_url"], decode_responses=True)
        probe = Probe(runtime["kafka_bootstrap"], r)
        probe.start()
        time.sleep(15)  # before: today's latency on an idle stack
        t0 = time.monotonic()
        ingest = subprocess.run([sys.executable, "-m", "ecc.cli", "--data-dir", str(folder / "data"),
                                 "ingest", str(lines)], capture_output=True, text=True)
        published = time.monotonic() - t0
        day_key = yesterday.strftime("%Y%m%d")
        want = sum(1 for line in lines.open() if '"type":"lead"' in line.replace(" ", ""))
        in_redis = wait_for(lambda: int(r.hget(f"ecc:{day_key}:c", "leads") or 0) >= want, 900)
        in_redis = None if in_redis is None else time.monotonic() - t0
        params = {"from": f"{yesterday.isoformat()}T00:00:00+08:00",
                  "to": f"{timeutil.today().isoformat()}T00:00:00+08:00"}
        in_ch = wait_for(lambda: requests.get(f"{url}/api/v1/kpis", params=params, timeout=30).json()["leads"]
                         >= want, 900, every=2)
        in_ch = None if in_ch is None else time.monotonic() - t0
        done = time.monotonic()
        time.sleep(args.after)
    finally:
        if probe is not None:
            probe.stop.set()
            probe.join(70)
        demo.terminate()
        demo.wait(60)
    rows = []
    for name, lo, hi in (("before the backfill", 0, t0), ("while it loads", t0, done),
                         (f"{args.after:.0f} s after", done, float("inf"))):
        lat = [s for at, s in probe.samples if lo <= at < hi]
        rows.append([name, str(len(lat))] + ([f"{pct(lat, q) * 1000:.0f}" for q in (0.5, 0.95, 0.99)] +
                                             [f"{max(lat) * 1000:.0f}"] if lat else ["-"] * 4))
    head = (f"backfill of {yesterday} through `ecc ingest`: {sent:,} lines ({want:,} leads), ingest exit "
            f"{ingest.returncode}, published in {published:.1f} s; yesterday's leads all in Redis after "
            f"{in_redis if in_redis is None else round(in_redis, 1)} s, in ClickHouse after "
            f"{in_ch if in_ch is None else round(in_ch, 1)} s; load average {load_before:.2f} before, "
            f"{load_average():.2f} after")
    print(table(head + "\ntoday's event->Redis latency (a lead every 0.5 s), ms",
                ["phase", "probes", "p50", "p95", "p99", "max"], rows))
    print(ingest.stdout.strip()[-400:])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
