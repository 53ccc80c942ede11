"""`ecc demo` as a user runs it: numbers move, and Ctrl-C leaves no process behind."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from ecc.embedded import free_port

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
                             "--port", str(port), "--rate", "500", "--backfill-minutes", "1"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 90
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
