"""`ecc demo` as a user runs it: numbers move, and Ctrl-C leaves no process behind."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
import redis
import requests

from ecc import timeutil
from ecc.embedded import free_port
from ecc.sim import history

pytestmark = pytest.mark.e2e


def descendants(pid: int) -> set[int]:
    """Every process below `pid`, from /proc (children of children too)."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
    found, frontier = set(), {pid}
    while frontier:
        frontier = {child for child, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    return stat.exists() and stat.read_text().rsplit(")", 1)[1].split()[0] != "Z"


def leads(url: str) -> int:
    try:
        return requests.get(f"{url}/api/v1/kpis", timeout=5).json()["leads"]
    except (requests.RequestException, ValueError, KeyError):
        return -1


@pytest.mark.parametrize("stop_signal", [signal.SIGINT, signal.SIGTERM])
def test_demo_runs_and_stops_everything(tmp_path, stop_signal):
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    proc = subprocess.Popen([sys.executable, "-m", "ecc.cli", "--data-dir", str(tmp_path), "demo",
                             "--port", str(port), "--rate", "500", "--backfill-minutes", "1",
                             "--history-days", "0"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        # a quiet machine shows leads within a minute; the start (migrations, the receivers' key check, the
        # web's imports) waits for a core on a loaded CI machine, where 90 s was once not enough
        deadline = time.monotonic() + 180
        while leads(url) <= 0 and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.5)
        first = leads(url)
        assert first > 0, "the demo shows no leads"
        time.sleep(3)
        assert leads(url) > first, "the numbers do not move"
        assert (tmp_path / "runtime.json").exists()
        children = descendants(proc.pid)
        assert len(children) >= 5  # tansu, valkey, worker, web, simulator (+ gunicorn's worker)
        proc.send_signal(stop_signal)
        assert proc.wait(60) == 0
        time.sleep(0.5)
        assert [pid for pid in children if alive(pid)] == []
        assert not (tmp_path / "runtime.json").exists()
    finally:
        if proc.poll() is None:
            proc.kill()
        for pid in descendants(proc.pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


def start_demo(data_dir: Path, port: int, *extra: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "ecc.cli", "--data-dir", str(data_dir), "demo", "--port",
                             str(port), *extra], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def stop_demo(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGINT)
    try:
        assert proc.wait(60) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
        for pid in descendants(proc.pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


def wait_for(check, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(1)
    raise AssertionError(f"timed out waiting for {what}")


def day_leads(url: str, day) -> int:
    start = timeutil.day_start(day)
    resp = requests.get(f"{url}/api/v1/kpis", timeout=30,
                        params={"from": start.isoformat(), "to": (start + timedelta(days=1)).isoformat()})
    return resp.json()["leads"]


def test_demo_loads_its_history_once_and_a_restart_does_not_load_it_again(tmp_path):
    """8 days would take minutes at any rate a test can afford: 2 days at a low rate prove the path. The
    days come out of the simulator identically (the marker keeps the seed), land in ClickHouse and in the
    live store exactly once, and a second start on the same data directory publishes nothing again and
    does not backfill today a second time."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    today = timeutil.today()
    days = history.wanted_days(today, 2)
    proc = start_demo(tmp_path, port, "--rate", "0.05", "--history-days", "2")
    marker_path = tmp_path / history.MARKER
    try:
        def stored() -> bool:
            try:
                body = json.loads(marker_path.read_text())
            except (OSError, ValueError):
                return False
            return {d.isoformat() for d in days} <= set(body["stored"])
        wait_for(stored, 300, "the history days confirmed stored")
        marker = json.loads(marker_path.read_text())
        assert marker["live"] == [today.isoformat()]
        expected = {d: sum(item["type"] == "lead" for item in history.day_items(marker["seed"], d, 0.05))
                    for d in days}
        assert all(expected.values())
        assert {d: day_leads(url, d) for d in days} == expected  # ClickHouse
        live = redis.Redis.from_url(json.loads((tmp_path / "runtime.json").read_text())["redis_url"],
                                    decode_responses=True)
        in_redis = {d: int(live.hget(f"ecc:{d:%Y%m%d}:c", "leads") or 0) for d in days}
        assert in_redis == expected  # the live store, which the wall reads
    finally:
        stop_demo(proc)
    log = (tmp_path / "logs" / "simulator.log").read_text()
    assert "backfilling 0.0 minutes" not in log  # the first start backfilled today from midnight
    proc = start_demo(tmp_path, port, "--rate", "0.05", "--history-days", "2")
    try:
        wait_for(lambda: "stored already" in (tmp_path / "logs" / "history.log").read_text(), 120,
                 "the restarted history loader")
        # The restarted simulator says how far back it publishes once its warm-up is done (it may come
        # after the history loader's answer): from now, not from midnight again.
        wait_for(lambda: "backfilling 0.0 minutes" in (tmp_path / "logs" / "simulator.log").read_text(), 120,
                 "the restarted simulator going on from now")
        wait_for(lambda: leads(url) >= 0, 120, "the restarted web app")
        assert {d: day_leads(url, d) for d in days} == expected
    finally:
        stop_demo(proc)
