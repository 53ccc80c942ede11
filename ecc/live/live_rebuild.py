"""The live store heals: rebuild Redis's live state from ClickHouse when Redis comes back empty or behind.

When is a rebuild needed? `<prefix>live:epoch` (ecc.live.live_store) is written only after a complete build.
- Missing: Redis is empty, new, or was flushed (a restart without persistence, a new Redis, a demo
  restarted on the same data directory with a fresh Valkey). Checked every CHECK_S.
- Behind: Redis came back from an older snapshot, epoch included. Detected by `<prefix>live:gen`, a counter
  this process increments at every check: a value not above the last one seen means Redis went back in
  time. This is known only while the rebuilder's process lives; a snapshot restored while every sink is
  down as well is not detected (docs/architecture.md "Faults").

How? For the live window (the days the live store keeps), stored events are read from ClickHouse in
(ts, event_id) order and applied through the same Lua script as the stream (`LiveStore.apply`). Its
`seen:<event_id>` keys make every event count once, so the worker may apply the same events at the same
time: whichever comes second is a no-op.

The race, and why the epoch is written only when the sinks have caught up: the worker applied events to
the old Redis and committed its offsets, so Kafka will not give them to the worker again; they are in
ClickHouse only once the sink has stored them, and the sink may lag. Every such event was produced before
the loss was detected (`lost_at`). So after reading the history the rebuilder keeps replaying the rows
the sink stores (by `received_at`, the sink's clock at insert, re-reading OVERLAP_S before the last read so
that a row whose insert straddled the read is not missed: replays are idempotent) until every live sink
has had a poll that started after `lost_at` and left nothing unstored (`SinkStats.caught_up_at`, also
shared in Redis by `LiveStore.note_sink_poll` for sinks in other processes). One last replay after that,
and every event the old Redis had is back; later events reach Redis through the stream. Only then is the
epoch written, and only if this rebuild's token is still in Redis (a flush during the rebuild deletes it:
the rebuild starts again). Meanwhile `LiveStore.live_state()` says "rebuilding" and the wall says so.

One rebuilder at a time: a lock (SET NX PX, refreshed per page) however many sinks run. It runs beside
the sink (`Sink.run` starts it) because only that process may open an embedded chDB.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from datetime import timedelta

from ecc import timeutil
from ecc.live.live_store import LiveStore
from ecc.olap import clickhouse
from ecc.olap.faults import describe

log = logging.getLogger(__name__)
CHECK_S = 1.0  # how often the epoch is checked
LOCK_TTL_S = 30.0
PAGE_ROWS = 20_000  # rows per ClickHouse read
APPLY_ROWS = 2_000  # events per Lua call (a call blocks Redis while it runs)
OVERLAP_S = 15.0  # re-read of rows stored just before the previous read (inserts in flight, sink clocks)
SETTLE_S = 3.0  # sinks of other processes re-register their polls in an emptied Redis within this
CAUGHT_UP_MARGIN_S = 1.0
SINK_STALE_S = 15.0  # a sink not heard of for this long is gone (its partitions went to another)


class RebuildAborted(RuntimeError):
    """The rebuild cannot finish: stopping, lock lost, or Redis emptied again while it ran."""


class Rebuilder:
    """Watches the live epoch and rebuilds the live state; `sink` is the ecc.sink.Sink beside it."""

    def __init__(self, store: LiveStore, client, sink=None):
        self.store = store
        self.client = client
        self.sink = sink
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.last: dict | None = None  # figures of the last finished rebuild
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._generation: int | None = None

    # ---- lifecycle ----

    def start(self) -> Rebuilder:
        self._thread = threading.Thread(target=self.run, name="ecc-live-rebuild", daemon=True)
        self._thread.start()
        return self

    def request_stop(self) -> None:
        self._stop.set()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout)

    def run(self) -> None:
        delay = CHECK_S
        while not self._stop.is_set():
            try:
                if self.needed():
                    self.rebuild()
                delay = CHECK_S
            except RebuildAborted as exc:
                log.warning("live rebuild stopped: %s", exc)
            except Exception as exc:  # Redis or ClickHouse unreachable: logged, tried again later
                log.warning("live rebuild: %s; checking again in %.0fs", describe(exc), delay)
                delay = min(delay * 2, 10.0)
            self._stop.wait(delay)

    # ---- the work ----

    def needed(self) -> bool:
        """True when Redis holds no complete live state (empty, flushed, or gone back in time)."""
        generation = self.store.generation()
        behind = self._generation is not None and generation <= self._generation
        self._generation = generation
        if behind and self.store.has_epoch():
            log.warning("Redis went back in time (its generation counter did not grow): rebuilding")
            self.store.forget_epoch()
        return not self.store.has_epoch()

    def rebuild(self) -> dict | None:
        """Rebuild if no other process is doing it; the figures of this rebuild, or None."""
        if not self.store.acquire_rebuild(self.owner, LOCK_TTL_S):
            return None
        try:
            self.last = self._rebuild()
            return self.last
        finally:
            try:
                self.store.release_rebuild(self.owner)
            except Exception as exc:  # it expires after LOCK_TTL_S anyway
                log.debug("rebuild lock not released: %s", describe(exc))

    def _rebuild(self) -> dict:
        lost_at = time.time()
        token = uuid.uuid4().hex
        self.store.begin_rebuild(token, int(lost_at * 1000))
        oldest = timeutil.today() - timedelta(days=self.store.live_days - 1)
        since_ms = int(timeutil.day_start(oldest).timestamp() * 1000)
        total = clickhouse.live_window_count(self.client, since_ms)
        log.warning("live store empty or behind: rebuilding %d events since %s from ClickHouse",
                    total, oldest)
        mark = time.time()  # the catch-up re-reads everything stored from here on (less the overlap)
        history = self._replay("ts", since_ms, (since_ms - 1, ""), token, total)
        history_s = time.time() - lost_at
        caught_up = False
        replayed = 0
        while not caught_up:
            caught_up = self.sinks_caught_up(lost_at)
            next_mark = time.time()
            replayed += self._replay("received", since_ms, (int((mark - OVERLAP_S) * 1000), ""), token)
            mark = next_mark
            if not caught_up:
                self.store.rebuild_progress(1.0, "catching_up")
                self._stop.wait(CHECK_S)
        if not self.store.finish_rebuild(token, timeutil.now_ms()):
            raise RebuildAborted("Redis lost its data during the rebuild; starting again")
        seconds = time.time() - lost_at
        figures = {"events": total, "history_applied": history, "catch_up_applied": replayed,
                   "history_s": round(history_s, 3), "seconds": round(seconds, 3),
                   "events_per_s": round(total / history_s) if history_s > 0 else None}
        log.warning("live store rebuilt: %s", figures)
        return figures

    def _replay(self, order: str, since_ms: int, after: tuple[int, str], token: str, total: int = 0) -> int:
        """Apply every live-window row after the cursor, page by page; returns how many counted anew."""
        applied = done = 0
        while True:
            self._check(token)
            rows = clickhouse.live_window_page(self.client, order, since_ms, after, PAGE_ROWS)
            if not rows:
                return applied
            events = [clickhouse.stored_event(row) for row in rows]
            for i in range(0, len(events), APPLY_ROWS):
                applied += self.store.apply(events[i:i + APPLY_ROWS], count_rate=False)[0]
            last = rows[-1]
            after = (int(last["ts_ms"] if order == "ts" else last["received_ms"]), last["event_id"])
            done += len(rows)
            if total:
                self.store.rebuild_progress(min(done / total, 1.0), "history")
            if len(rows) < PAGE_ROWS:
                return applied

    def _check(self, token: str) -> None:
        if self._stop.is_set() or (self.sink is not None and self.sink.stopping):
            raise RebuildAborted("stopping")
        if not self.store.refresh_rebuild(self.owner, LOCK_TTL_S):
            raise RebuildAborted("the rebuild lock expired")
        if not self.store.rebuild_token_alive(token):
            raise RebuildAborted("Redis lost its data during the rebuild; starting again")

    def sinks_caught_up(self, lost_at: float) -> bool:
        """Every live sink has stored all it could read at some moment after `lost_at` (see module doc)."""
        need = lost_at + CAUGHT_UP_MARGIN_S
        if time.time() < lost_at + SETTLE_S:
            return False
        own_id = getattr(self.sink, "sink_id", None)
        if self.sink is not None and (self.sink.stats.caught_up_at or 0) < need:
            return False
        now_ms = timeutil.now_ms()
        for sink_id, (last_poll_ms, caught_up_ms) in self.store.sink_polls().items():
            alive = now_ms - last_poll_ms < SINK_STALE_S * 1000
            if sink_id != own_id and alive and caught_up_ms < need * 1000:
                return False
        return True
