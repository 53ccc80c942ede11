"""The ClickHouse sink: accepted events and dead letters from Kafka into ClickHouse, one batch per insert.

Exactly-once under redelivery without Kafka transactions: before a batch is inserted, the ids already
stored are dropped (and duplicates inside the batch), and offsets are committed only after the insert.
A sink killed between insert and commit re-reads the batch and finds every id already stored.

No poison batch stops it (docs/architecture.md "Faults"; the pure half is ecc.sink_batches):
- an insert never spans more than PARTITION_LIMIT partitions (ClickHouse refuses more than 100);
- a transient fault (store unreachable or busy, `ecc.olap.faults`) is retried with backoff on the same batch,
  offsets are not committed past it, and `stats` says "retrying" since when and why;
- a permanent fault (this data cannot be stored) splits the failing insert in halves until each refused
  row is alone; every refused row becomes a dead letter in `rejects` with the store's reason, the rest is
  stored, offsets are committed and the stream goes on. A message that is not even an event is a dead
  letter too.

Embedded mode runs the sink as a thread of the web process, because chDB lets only one OS process open
its data path (DESIGN.md); in production it is its own process (`ecc sink`). Beside it runs the live
store's rebuilder (`ecc.live.live_rebuild`), which needs ClickHouse and therefore lives where the sink lives.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from functools import partial

import redis
from confluent_kafka import KafkaException

from ecc import timeutil
from ecc.config import Settings
from ecc.contract import pii
from ecc.contract.events import Event, Rejection
from ecc.olap import clickhouse
from ecc.olap.faults import PermanentFault, TransientFault, describe
from ecc.sink_batches import (
    RAW_LIMIT,
    by_partition,
    dead_letter,
    dead_letter_id,
    decode,
    event_partition,
    first_by_id,
    reject_partition,
    store_bisect,
)
from ecc.transport.kafka import consumer

log = logging.getLogger(__name__)
GROUP = "ecc-sink"
BEAT_EVERY_S = 2.0
BACKOFF_S = (0.5, 10.0)  # first and longest wait between two tries of a batch


@dataclass
class SinkStats:
    inserted: int = 0
    redelivered: int = 0
    rejects: int = 0
    dead_letters: int = 0  # rows ClickHouse refused, kept in `rejects` with its reason
    lost: int = 0  # dead letters that could not be stored either (logged one by one)
    batches: int = 0
    errors: int = 0
    commit_errors: int = 0
    state: str = "starting"  # starting | ok | retrying | stopped
    retrying_since: float | None = None
    last_batch_at: float | None = None
    last_error: str | None = None
    last_error_at: float | None = None
    last_poll_at: float | None = None
    caught_up_at: float | None = None  # start of the last poll that drained the topics (all stored)

    @property
    def healthy(self) -> bool:
        """No error, or a batch has been stored since the last one."""
        return self.state != "retrying" and (
            self.last_error_at is None or (self.last_batch_at or 0) > self.last_error_at)

    def as_dict(self) -> dict:
        return {**asdict(self), "healthy": self.healthy}


# ---- store: the ClickHouse side ----

def not_yet_stored(client, items: list, ident, stored_ids) -> list:
    """The first of each id in the batch, less the ids `stored_ids(client, ids)` says are stored."""
    items = first_by_id(items, ident)
    if not items:
        return []
    known = stored_ids(client, [ident(item) for item in items])
    return [item for item in items if ident(item) not in known]


def _event_id(e: Event) -> str:
    return e.event_id


def _reject_id(r: Rejection) -> str:
    return r.reject_id


def store_batch(client, events: list[Event], rejections: list[Rejection], stats: SinkStats,
                now_ms: int | None = None) -> None:
    """Store one batch: what ClickHouse refuses becomes a dead letter. Raises only TransientFault."""
    now_ms = now_ms if now_ms is not None else timeutil.now_ms()
    try:
        fresh = not_yet_stored(client, events, _event_id, clickhouse.existing_ids)
        stats.redelivered += len(events) - len(fresh)
        refused: list[Rejection] = []
        for chunk in by_partition(fresh, event_partition):
            stored, bad = store_bisect(
                chunk, lambda rows: clickhouse.insert_events(client, rows),
                lambda rows: not_yet_stored(client, rows, _event_id, clickhouse.existing_ids))
            stats.inserted += stored
            for event, reason in bad:
                log.error("ClickHouse refused event %s: %s", event.event_id, reason)
                refused.append(dead_letter(event, reason, now_ms))
        stats.dead_letters += len(refused)
        _store_rejects(client, rejections + refused, stats)
    except PermanentFault as fault:  # an existence check refused: a bug, not data; retrying shows it
        raise TransientFault(f"unexpected permanent fault outside an insert: {fault.reason}") from fault
    except TransientFault:
        raise
    except Exception as exc:
        raise TransientFault(describe(exc)) from exc


def _store_rejects(client, rejections: list[Rejection], stats: SinkStats) -> None:
    def missing(rows: list) -> list:
        return not_yet_stored(client, rows, _reject_id, clickhouse.existing_reject_ids)

    for chunk in by_partition(missing(rejections), reject_partition):
        stored, bad = store_bisect(chunk, lambda rows: clickhouse.insert_rejects(client, rows), missing)
        stats.rejects += stored
        for rejection, reason in bad:
            # Last resort: keep that it happened and why, without the raw copy the store refused.
            why = pii.mask_text(f"dead letter not storable ({reason}); was: {rejection.reason}")
            bare = Rejection(reason=why[:RAW_LIMIT], raw="", source=str(rejection.source)[:32],
                             received_ms=storable_received_ms(rejection),
                             reject_id=dead_letter_id("reject", rejection.reject_id))
            stored, still_bad = store_bisect([bare], lambda rows: clickhouse.insert_rejects(client, rows),
                                             missing)
            stats.rejects += stored
            if still_bad:
                stats.lost += 1
                log.error("dead letter %r could not be stored: %s", rejection.reject_id, still_bad[0][1])


def storable_received_ms(rejection: Rejection) -> int:
    """A storable received time: the rejection's own if it is an int in DateTime64 range, else now."""
    value = rejection.received_ms
    if isinstance(value, int) and 0 <= value < 4_102_444_800_000:  # before 2100
        return value
    return timeutil.now_ms()


class Sink:
    """Consumes `ecc.events` and `ecc.rejects` into ClickHouse; `client=None` connects on start (and
    keeps trying while ClickHouse is unreachable). With a Redis URL in the settings it also beats a
    heartbeat and runs the live store's rebuilder (`ecc.live.live_rebuild`)."""

    def __init__(self, settings: Settings, client=None, *, rebuild: bool = True):
        self.settings = settings
        self.client = client
        self.stats = SinkStats()
        self.sink_id = f"{socket.gethostname()}:{os.getpid()}:{id(self):x}"
        self.live = None
        if settings.redis_url:
            from ecc.live.live_store import LiveStore

            self.live = LiveStore.from_url(settings.redis_url, live_days=settings.live_days)
        self.rebuilder = None
        self._rebuild = rebuild and self.live is not None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._beat_at = 0.0

    def run(self) -> None:
        """Consume until `stop()`; a batch is committed only once stored (or dead-lettered)."""
        s = self.settings
        if self.client is None and not self._retry(self._connect):
            return
        if self._rebuild and self.rebuilder is None:
            from ecc.live.live_rebuild import Rebuilder

            self.rebuilder = Rebuilder(self.live, self.client, self).start()
        c = consumer(s, GROUP, [s.topic_events, s.topic_history, s.topic_rejects])
        try:
            while not self._stop.is_set():
                started = time.time()
                polled = c.consume(s.sink_batch_max, s.sink_batch_seconds)
                messages = []
                for m in polled:
                    if m.error():
                        log.warning("consumer error: %s", m.error())
                    else:
                        messages.append(m)
                self.stats.last_poll_at = started
                if messages:
                    events, rejections = decode(messages, (s.topic_events, s.topic_history),
                                                timeutil.now_ms())
                    if not self._retry(partial(store_batch, self.client, events, rejections, self.stats)):
                        break  # stopped while retrying: do not commit
                    self._note_stored()
                    self.stats.batches += 1
                    self.stats.last_batch_at = time.time()
                    self._commit(c)
                # A poll that did not fill the batch waited out its timeout with nothing more to read: all
                # that the broker held when it started is now stored (the rebuilder waits for this).
                if len(polled) < s.sink_batch_max:
                    self.stats.caught_up_at = started
                self._beat()
        finally:
            self.stats.state = "stopped"
            c.close()

    def _connect(self) -> None:
        client = clickhouse.connect(self.settings.clickhouse)
        clickhouse.apply_schema(client, self.settings.clickhouse_cluster)
        self.client = client

    def _retry(self, attempt: Callable[[], object]) -> bool:
        """Run `attempt` until it succeeds (True) or the sink is stopped (False); every failure is
        transient here (store_batch turns permanent faults into dead letters itself)."""
        delay = BACKOFF_S[0]
        while not self._stop.is_set():
            try:
                attempt()
            except Exception as exc:  # recorded in stats and the heartbeat, logged, retried
                now = time.time()
                st = self.stats
                st.errors += 1
                st.last_error, st.last_error_at = describe(exc), now
                if st.state != "retrying":
                    st.state, st.retrying_since = "retrying", now
                log.error("sink: store unavailable, retrying in %.1fs: %s", delay, st.last_error)
                self._beat(force=True)
                self._stop.wait(delay)
                delay = min(delay * 2, BACKOFF_S[1])
                continue
            if self.stats.state != "ok":
                self.stats.state, self.stats.retrying_since = "ok", None
                self._beat(force=True)
            return True
        return False

    def _note_stored(self) -> None:
        """Move the data watermark: cached drill-down answers computed before this batch are stale. A
        Redis fault costs only that (they then last their time to live): never a stalled sink."""
        if self.live is None:
            return
        try:
            self.live.note_stored()
        except redis.RedisError as exc:
            log.warning("sink: data watermark not moved (cached answers last their time to live): %s", exc)

    def _commit(self, c) -> None:
        try:
            c.commit(asynchronous=False)
        except KafkaException as exc:
            # E.g. a rebalance while the batch was retried: the batch comes again and is found stored.
            self.stats.commit_errors += 1
            log.warning("sink: offset commit failed (the batch will be redelivered, then skipped): %s", exc)

    def _beat(self, force: bool = False) -> None:
        now = time.monotonic()
        if self.live is None or (not force and now - self._beat_at < BEAT_EVERY_S):
            return
        self._beat_at = now
        st = self.stats
        self.live.beat("sink", error=st.last_error if st.state == "retrying" else None)
        self.live.note_sink_poll(self.sink_id, st.last_poll_at, st.caught_up_at)

    def start(self) -> Sink:
        self._thread = threading.Thread(target=self.run, name="ecc-sink", daemon=True)
        self._thread.start()
        return self

    def request_stop(self) -> None:
        """Ask the sink (and its rebuilder) to stop; safe in a signal handler."""
        self._stop.set()
        if self.rebuilder is not None:
            self.rebuilder.request_stop()

    def stop(self, timeout: float = 10.0) -> None:
        self.request_stop()
        if self.rebuilder is not None:
            self.rebuilder.stop(timeout)
        if self._thread:
            self._thread.join(timeout)

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    @property
    def alive(self) -> bool:
        return self._thread is None or self._thread.is_alive()


def run_forever(settings: Settings) -> int:
    """`ecc sink`: its own process (production). SIGTERM stops it after the current batch."""
    import signal

    sink = Sink(settings)
    signal.signal(signal.SIGTERM, lambda *_: sink.request_stop())
    try:
        sink.run()
    except KeyboardInterrupt:
        pass
    finally:
        sink.stop()
    return 0
