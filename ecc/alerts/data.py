"""The alert rules' numbers from ClickHouse (queries/alerts_*.sql), in event time, with a small cache.

A window is [start, end). Baseline windows lie in the past and the evaluator asks for them with ends on
whole minutes, so one answer serves the six evaluations of a minute (and every rule that asks the same
window); the current window's answer changes with every evaluation and simply passes through the cache.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from datetime import UTC, datetime, timedelta

from ecc.olap import clickhouse

CACHE_SIZE = 512
FRESHNESS_LOOKBACK = timedelta(hours=6)

# (channel, step, age in whole minutes before the window's end) -> (entered, converted, rejects)
StepAges = dict[tuple[str, int, int], tuple[int, int, int]]
LeadCounts = dict[str, tuple[int, int]]  # channel -> (leads, dialed)


def _utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC)


class AlertData:
    def __init__(self, ch, cache_size: int = CACHE_SIZE):
        self.ch = ch
        self._cache: OrderedDict[tuple, object] = OrderedDict()
        self._size = cache_size
        self._lock = threading.Lock()
        self.queries = 0  # how many ClickHouse queries ran (the benchmark prints it)
        self._fresh: tuple[datetime, dict[str, int]] | None = None

    def _cached(self, key: tuple, compute):
        with self._lock:
            if key in self._cache:
                self._cache.move_to_end(key)
                return self._cache[key]
        value = compute()
        self.queries += 1
        with self._lock:
            self._cache[key] = value
            while len(self._cache) > self._size:
                self._cache.popitem(last=False)
        return value

    def step_ages(self, end: datetime, minutes: int) -> StepAges:
        """Step counts of [end - minutes, end) by age (queries/alerts_steps.sql): every window of whole
        minutes ending at `end` is a sum of ages 0..w-1, so one query serves every window the rules scan."""
        def run() -> StepAges:
            rows = clickhouse.query_rows(self.ch, "alerts_steps",
                                         {"start": _utc(end - timedelta(minutes=minutes)), "end": _utc(end)})
            return {(r["channel"], int(r["step"]), int(r["age"])):
                    (int(r["entered"]), int(r["converted"]), int(r["rejects"])) for r in rows}
        return self._cached(("steps", end.timestamp(), minutes), run)

    def leads(self, start: datetime, end: datetime, asof: datetime) -> LeadCounts:
        def run() -> LeadCounts:
            rows = clickhouse.query_rows(self.ch, "alerts_leads",
                                         {"start": _utc(start), "end": _utc(end), "asof": _utc(asof)})
            return {r["channel"]: (int(r["leads"]), int(r["dialed"])) for r in rows}
        return self._cached(("leads", start.timestamp(), end.timestamp(), asof.timestamp()), run)

    def first_stored(self, now: datetime) -> datetime | None:
        """The oldest stored event's time (None when nothing is stored), asked at most once a minute of
        `now`: baselines never reach back before it."""
        def run():
            row = clickhouse.query_rows(self.ch, "alerts_first", {})[0]
            return datetime.fromtimestamp(int(row["first_ms"]) / 1000, tz=UTC) if row["stored"] else None
        return self._cached(("first", now.replace(second=0, microsecond=0).timestamp()), run)

    def freshness(self, now: datetime) -> dict[str, int]:
        """Newest event ts (epoch ms) per event type and for "all", within the look-back (one query per
        instant, shared by every rule of an evaluation)."""
        with self._lock:
            if self._fresh is not None and self._fresh[0] == now:
                return self._fresh[1]
        rows = clickhouse.query_rows(self.ch, "alerts_freshness",
                                     {"since": _utc(now - FRESHNESS_LOOKBACK), "now": _utc(now)})
        self.queries += 1
        newest = {r["source"]: int(r["newest_ms"]) for r in rows}
        if newest:
            newest["all"] = max(newest.values())
        with self._lock:
            self._fresh = (now, newest)
        return newest
