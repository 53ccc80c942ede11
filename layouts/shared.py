"""One live snapshot per process and tick, shared by every screen that refreshes in it.

Fifty screens refreshing every second send ~25 requests a second to each gunicorn worker. Each used to
read the snapshot itself: three Redis round trips (the day's counters and minute hashes, two 60-key
rate windows), then parsing the day's minute series into the snapshot dict — about a quarter of a
refresh's server time under load (docs/wall.md, "Serving 50 screens"). The screens of one second all ask
for the same numbers, so a worker now reads the snapshot at most once per `window_s` (single flight:
requests arriving while it is read wait for that read instead of starting their own), and hands the
same `SharedSnapshot` to each, whose digest (the memo's key) is then computed once too.

A screen sees numbers at most `window_s` older than a read of its own would have given: with the
default 0.25 s and a 1 s refresh this is within the second the freshness badge already rounds to.
Errors are not kept: a failed read raises to its waiters and the next request reads again.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import Future

from layouts.memo import SharedSnapshot

WINDOW_S = 0.25

Provider = Callable[[], Mapping | None]


class TickShare:
    """`provider` called at most once per `window_s` per process; its answer shared (thread-safe)."""

    def __init__(self, provider: Provider, window_s: float = WINDOW_S,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.provider = provider
        self.window_s = window_s
        self.clock = clock
        self._lock = threading.Lock()
        self._value: Mapping | None = None
        self._at = float("-inf")
        self._flight: Future | None = None
        self.reads = 0  # provider calls (tests and the bench read it)

    def __call__(self) -> Mapping | None:
        with self._lock:
            if self.clock() - self._at < self.window_s:
                return self._value
            flight, leader = self._flight, self._flight is None
            if leader:
                flight = self._flight = Future()
        if not leader:
            return flight.result()
        started = self.clock()
        try:
            self.reads += 1
            value = self.provider()
            if isinstance(value, Mapping) and not isinstance(value, SharedSnapshot):
                value = SharedSnapshot(value)
        except BaseException as exc:
            with self._lock:
                self._flight = None
            flight.set_exception(exc)
            raise
        with self._lock:
            # The window starts when the read started: the value is as old as the read's start.
            self._value, self._at, self._flight = value, started, None
        flight.set_result(value)
        return value
