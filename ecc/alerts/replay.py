"""Replaying simulated time through the real stores, for the alert tests and bench/alerts.py.

`load(ch, config, start, end)` puts the simulator's events of [start, end) into ClickHouse through the
real insert path, in batches. The door is skipped (the simulator's valid events need no checking, and
validating a million events takes minutes on a busy machine): each becomes an `Event` with the fields
the alert queries read; the end-to-end test (tests/test_alerts_e2e.py) goes through the door.
Every alert query is bounded by its event time "now" (ts < end, first_call < asof, ts <= now), so
loading a stretch first and then evaluating at successive instants of it sees, at each instant,
exactly what a live feed with no lag would have shown.
`replay(evaluator, start, end, step)` then evaluates at every `step` and collects what happened.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from ecc.contract.events import Event
from ecc.olap import clickhouse
from ecc.sim import simulate

BATCH = 50_000


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def _items(config: simulate.SimConfig, start: datetime, end: datetime, recover_at: datetime | None):
    """The simulator's items; with `recover_at`, the config's anomaly ends there (the simulator has no
    end for an anomaly: the one run is continued with the anomaly taken off)."""
    sim = simulate.Simulator(config, _ms(start))
    if recover_at is None:
        yield from sim.run(_ms(end))
        return
    yield from sim.run(_ms(recover_at))
    sim._anomaly = None  # the same journeys in flight go on at their normal conversion
    yield from sim.run(_ms(end))


def load(ch, config: simulate.SimConfig, start: datetime, end: datetime, *,
         types: Iterable[str] = ("lead", "step", "call"), until: datetime | None = None,
         recover_at: datetime | None = None, thin_until: datetime | None = None,
         thin_types: Iterable[str] = ("lead", "call")) -> int:
    """Simulated events with ts in [start, until or end) of the given types, inserted in batches; the
    simulation runs on to `end` so that journeys in flight are the same as in a longer run. Before
    `thin_until` only `thin_types` are kept: past days that only the volume baselines read (one run, so
    the journeys in flight at the boundary are the real ones)."""
    wanted, stop = set(types), _ms(until or end)
    thin, thin_stop = set(thin_types) & wanted, _ms(thin_until) if thin_until else 0
    batch, total = [], 0
    for _, item in _items(config, start, end, recover_at):
        if simulate.is_bad(item) or item["type"] not in wanted:
            continue
        ts_ms = int(datetime.fromisoformat(item["ts"]).timestamp() * 1000)
        if ts_ms >= stop or (ts_ms < thin_stop and item["type"] not in thin):
            continue
        batch.append(Event(event_id=item["event_id"], type=item["type"], ts_ms=ts_ms,
                           channel=item.get("channel", ""), lead_id=item.get("lead_id", ""),
                           account_id=item.get("account_id", ""), step=item.get("step", 0),
                           status=item.get("status", "done") if item["type"] == "step" else "",
                           outcome=item.get("outcome", ""), caller=item.get("by", "")))
        if len(batch) >= BATCH:
            total += clickhouse.insert_events(ch, batch)
            batch = []
    return total + clickhouse.insert_events(ch, batch)


@dataclass
class Replay:
    """Each transition with the event-time instant it happened at."""

    events: list[tuple[datetime, str, dict]] = field(default_factory=list)
    evaluations: int = 0

    def first(self, transition: str, **match) -> tuple[datetime, dict] | None:
        for at, t, alert in self.events:
            if t == transition and all(alert.get(k) == v for k, v in match.items()):
                return at, alert
        return None

    def count(self, transition: str, **match) -> int:
        return sum(1 for _, t, a in self.events
                   if t == transition and all(a.get(k) == v for k, v in match.items()))


def replay(evaluator, start: datetime, end: datetime, step: timedelta = timedelta(seconds=10)) -> Replay:
    """Evaluate at start, start + step, … < end; every transition is recorded (and still handed to the
    evaluator's own notify)."""
    out = Replay()
    previous = evaluator._notify
    moment = start

    def record(group: list[dict], transition: str) -> None:
        out.events.extend((moment, transition, alert) for alert in group)
        previous(group, transition)

    evaluator._notify = record
    try:
        while moment < end:
            evaluator.evaluate(moment)
            out.evaluations += 1
            moment += step
    finally:
        evaluator._notify = previous
    return out
