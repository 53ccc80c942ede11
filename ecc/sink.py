"""The ClickHouse sink: accepted events and dead letters from Kafka into ClickHouse, one batch per insert.

Exactly-once under redelivery without Kafka transactions: before a batch is inserted, the ids already
stored are dropped (and duplicates inside the batch), and offsets are committed only after the insert.
A sink killed between insert and commit re-reads the batch and finds every id already stored.

Embedded mode runs the sink as a thread of the web process, because chDB lets only one OS process open
its data path (DESIGN.md); in production it is its own process (`ecc sink`).
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field

from ecc import clickhouse
from ecc.config import Settings
from ecc.events import Event, Rejection
from ecc.kafka import consumer

log = logging.getLogger(__name__)
GROUP = "ecc-sink"


@dataclass
class SinkStats:
    inserted: int = 0
    redelivered: int = 0
    rejects: int = 0
    batches: int = 0
    last_batch_at: float | None = None
    last_error: str | None = None
    last_error_at: float | None = None
    errors: int = field(default=0)

    @property
    def healthy(self) -> bool:
        """No error, or a batch has been stored since the last one."""
        return self.last_error_at is None or (self.last_batch_at or 0) > self.last_error_at


def first_by_id(items: list, ident) -> list:
    """Keep the first item per id, in arrival order (a second event with a seen event_id is a redelivery)."""
    seen: set[str] = set()
    out = []
    for item in items:
        key = ident(item)
        if key not in seen:
            seen.add(key)
            out.append(item)
    return out


def not_yet_stored(client, items: list, ident, stored_ids) -> list:
    """The first of each id in the batch, less the ids `stored_ids(client, ids)` says are stored."""
    items = first_by_id(items, ident)
    if not items:
        return []
    known = stored_ids(client, [ident(item) for item in items])
    return [item for item in items if ident(item) not in known]


def store_batch(client, events: list[Event], rejections: list[Rejection], stats: SinkStats) -> None:
    fresh = not_yet_stored(client, events, lambda e: e.event_id, clickhouse.existing_ids)
    stats.redelivered += len(events) - len(fresh)
    if fresh:
        stats.inserted += clickhouse.insert_events(client, fresh)
    fresh_rejects = not_yet_stored(client, rejections, lambda r: r.reject_id, clickhouse.existing_reject_ids)
    if fresh_rejects:
        stats.rejects += clickhouse.insert_rejects(client, fresh_rejects)


class Sink:
    def __init__(self, settings: Settings, client):
        self.settings = settings
        self.client = client
        self.stats = SinkStats()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def run(self) -> None:
        """Consume until `stop()`; a failed insert is retried (offsets are not committed past it)."""
        s = self.settings
        c = consumer(s, GROUP, [s.topic_events, s.topic_rejects])
        try:
            while not self._stop.is_set():
                messages = [m for m in c.consume(s.sink_batch_max, s.sink_batch_seconds) if not m.error()]
                if not messages:
                    continue
                events, rejections = [], []
                for m in messages:
                    if m.topic() == s.topic_events:
                        events.append(Event.from_json(m.value()))
                    else:
                        rejections.append(Rejection.from_json(m.value()))
                self._store_with_retry(events, rejections)
                c.commit(asynchronous=False)
        finally:
            c.close()

    def _store_with_retry(self, events, rejections) -> None:
        delay = 0.5
        while not self._stop.is_set():
            try:
                store_batch(self.client, events, rejections, self.stats)
                self.stats.batches += 1
                self.stats.last_batch_at = time.time()
                return
            except Exception as exc:
                self.stats.errors += 1
                self.stats.last_error = f"{type(exc).__name__}: {exc}"
                self.stats.last_error_at = time.time()
                log.error("sink insert failed, retrying in %.1fs: %s", delay, self.stats.last_error)
                self._stop.wait(delay)
                delay = min(delay * 2, 10)

    def start(self) -> Sink:
        self._thread = threading.Thread(target=self.run, name="ecc-sink", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout)

    @property
    def alive(self) -> bool:
        return self._thread is None or self._thread.is_alive()


def run_forever(settings: Settings) -> int:
    """`ecc sink`: its own process (production). SIGTERM stops it after the current batch."""
    import signal

    client = clickhouse.connect(settings.clickhouse)
    clickhouse.apply_schema(client)
    sink = Sink(settings, client)
    signal.signal(signal.SIGTERM, lambda *_: sink.stop())
    try:
        sink.run()
    except KeyboardInterrupt:
        pass
    return 0
