"""bench/pipeline.py's workload and probes: simulated events, the expected live counters, the Redis and
health probes, CPU time per process. Split from pipeline.py to keep each file readable."""

from __future__ import annotations

import logging
import os
from collections import defaultdict
from dataclasses import dataclass, field

import redis
import requests
from report import machine_cpu_seconds, own_cpu_seconds

from ecc import timeutil
from ecc.contract import validate
from ecc.contract.events import Event
from ecc.embedded import Stack
from ecc.sim import simulate

log = logging.getLogger("bench.pipeline")
HOUR_MS = 3_600_000


# ---- workload ----

def make_events(n: int, run_id: str, phone_key: str, window_h: float = 24.0,
                end_ms: int | None = None) -> list[Event]:
    """n validated events of a simulated stretch ending now (inside the live window, hence counted).

    A whole day rather than a few minutes so that journeys reach deposits, assets and trades and the Lua
    script sees its whole mix, not only fresh leads, at any hour of the run: the simulator's call centre
    and money move in business hours only (a six-hour window ending at 04:00 Shanghai held leads and
    steps alone). The rate is scaled by the diurnal curve of the
    window, so the count comes out near n at any hour; a short count is retried with a higher rate.
    """
    end = end_ms or timeutil.now_ms()
    start = end - int(window_h * HOUR_MS)
    curve = sum(simulate.diurnal(t) for t in range(start, end, 60_000)) / ((end - start) / 60_000)
    rate = n / (window_h * 3600 * curve) * 1.15
    for _attempt in range(4):
        config = simulate.SimConfig(seed=sum(map(ord, run_id)), rate=rate, run_id=run_id)
        items = [item for _, item in simulate.generate(config, start, end)]
        batch = validate.check_objects(items, source="simulator", phone_key=phone_key, now_ms=end)
        if batch.rejected:
            log.warning("%d simulated events rejected, first: %s", len(batch.rejected),
                        batch.rejected[0].reason)
        if len(batch.accepted) >= n:
            return batch.accepted[:n]
        rate *= 1.5 * n / max(1, len(batch.accepted))
    raise RuntimeError(f"simulator gave {len(batch.accepted)} events, wanted {n}")


@dataclass
class Expected:
    """What Redis must hold once every event sent so far is applied (mirrors ecc/live.lua for the fields
    it checks). Events are unique (no duplicates), so plain counts and sums are exact."""

    days: dict[str, dict[str, int]] = field(default_factory=lambda: defaultdict(lambda: defaultdict(int)))
    _distinct: set = field(default_factory=set)
    newest_asset_ms: int = 0  # asset snapshots move no counter: the script notes their freshness only
    sent: int = 0

    def add(self, event: Event) -> None:
        self.sent += 1
        day = timeutil.day_key(event.ts_ms)
        c = self.days[day]
        if event.type == "lead":
            self._count_distinct(c, day, "leads", event.lead_id)
        elif event.type == "step":
            if event.status == "done":
                self._count_distinct(c, day, f"reach:{event.step}", event.lead_id)
            else:
                c[f"rejects:{event.step}"] += 1
        elif event.type == "call":
            c["calls"] += 1
        elif event.type == "deposit":
            c["deposit_in_fen" if event.direction == "in" else "deposit_out_fen"] += event.amount_fen
        elif event.type == "trade":
            c[f"trade_fen:{event.product}"] += event.amount_fen
        elif event.type == "asset":
            self.newest_asset_ms = max(self.newest_asset_ms, event.ts_ms)

    def _count_distinct(self, c: dict, day: str, name: str, member: str) -> None:
        if (day, name, member) not in self._distinct:
            self._distinct.add((day, name, member))
            c[name] += 1

    def leads(self) -> int:
        return sum(c.get("leads", 0) for c in self.days.values())


class Probe:
    """Reads the stores as a wall screen or an operator would: Redis counters and /api/v1/health."""

    def __init__(self, stack: Stack):
        self.r = redis.Redis.from_url(stack.settings.redis_url, decode_responses=True)
        self.url = stack.url
        self.http = requests.Session()

    def leads(self, days: list[str]) -> int:
        pipe = self.r.pipeline(transaction=False)
        for day in days:
            pipe.hget(f"ecc:{day}:c", "leads")
        return sum(int(v or 0) for v in pipe.execute())

    def redis_missing(self, want: Expected) -> int:
        """How many checked fields still differ from `want` (0: Redis has applied everything sent)."""
        pipe = self.r.pipeline(transaction=False)
        days = list(want.days)
        for day in days:
            pipe.hgetall(f"ecc:{day}:c")
        pipe.hget("ecc:fresh", "asset")
        *got_days, newest_asset = pipe.execute()
        missing = sum(1 for day, got in zip(days, got_days, strict=True)
                      for name, value in want.days[day].items() if int(got.get(name, 0)) != value)
        return missing + (int(newest_asset or 0) < want.newest_asset_ms)

    def sink_inserted(self) -> int:
        body = self.http.get(f"{self.url}/api/v1/health", timeout=10).json()
        return int(body["components"]["sink"]["inserted"])


# ---- CPU time per process: a cheap profile of where the two cores go ----

_TICK = os.sysconf("SC_CLK_TCK")


def _read(path: str) -> str:
    with open(path) as fh:
        return fh.read()


def _children(pid: int | str) -> list[int]:
    return [int(p) for task in os.listdir(f"/proc/{pid}/task")
            for p in _read(f"/proc/{pid}/task/{task}/children").split()]


def _cpu_tree(pid: int) -> float:
    """User + system seconds of a process and its descendants (gunicorn's worker is the master's child)."""
    try:
        fields = _read(f"/proc/{pid}/stat").rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / _TICK + sum(_cpu_tree(c) for c in _children(pid))
    except (OSError, IndexError, ValueError):
        return 0.0


def cpu_snapshot(stack: Stack) -> dict[str, float]:
    named = {c.proc.pid: c.name for c in stack.children}
    out = {name: _cpu_tree(pid) for pid, name in named.items()}  # valkey is one of the Stack's children
    out["bench (publisher, probes)"] = own_cpu_seconds()
    # what the machine used beyond the processes above: other users' work distorts the figures
    out["other processes"] = machine_cpu_seconds() - sum(out.values())
    return out
