"""The live path of the stream worker: events topic -> Redis, in whole batches below faust's per-event stream.

Why not a faust agent: faust hands every message through its own machinery (tasks, waits and an event-loop
turn per message), which alone tops out near 10,000 events/s on one core here, before any work is done
(docs/benchmarks.md, "where the worker's time goes"). This consumer takes up to BATCH_MAX messages per
poll from librdkafka (which prefetches in its own C thread), decodes each payload straight to its Lua
record and applies the batch with one Lua call, then commits: at-least-once, made exact by the live
store's `seen:<event_id>` keys.

It runs in a thread of the `ecc worker` process, so the blocking Redis call never stops faust's event
loop (the gate and the dead-letter counter keep going). Each process joins the consumer group GROUP: a
second `ecc worker` takes half of the partitions.

History: events older than today (Shanghai) come on their own topic (`kafka.event_topic`), consumed by
a second LiveConsumer that yields to today's: it takes a batch only while no today's consumer is behind,
and rests after each batch as long as the batch took, so a backfill of past days never queues in front of
today's events and leaves them at least half of the worker and of Valkey. With several worker processes
"no today's consumer" and "one history batch at a time" hold across all of them, through Redis
(`LiveStore.mark_today_behind`, `take_history_turn`): a process yielding only to its own today's consumer
let the other's backfill run while its today's partitions waited (6.5 s p99 with two workers).
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import threading
import time

import redis
from confluent_kafka import KafkaException

from ecc.config import Settings
from ecc.live.live_store import LiveStore
from ecc.olap.faults import describe
from ecc.transport import kafka

log = logging.getLogger(__name__)
GROUP = "ecc-worker"  # the live counters' consumer group (health reads its lag on the events topic)
HISTORY_GROUP = "ecc-worker-history"
BATCH_MAX = 5000
# How long a poll waits to fill its batch: the latency a quiet stream adds (the broker's own fetch wait,
# ecc.transport.kafka.consumer's fetch.wait.max.ms, comes on top).
POLL_S = 0.1
HISTORY_BATCH_MAX = 1000  # smaller: today's events wait behind at most one history batch
# The history consumer rests after each batch for as long as the batch took, times this factor: a backfill
# takes at most half of the worker's time and of Valkey's, and today's batches find both free in between.
HISTORY_REST = 1.0
BEAT_S = 2.0
HISTORY_TURN_S = 30.0  # a history turn lapses after this if its holder died mid-batch
BACKOFF_S = (0.2, 5.0)


class LiveConsumer:
    """One consumer thread: topics -> `LiveStore.apply_payloads`, commit after each stored batch."""

    def __init__(self, settings: Settings, store: LiveStore, topics: list[str], group: str, name: str,
                 *, batch_max: int = BATCH_MAX, yield_to: LiveConsumer | None = None,
                 rest: float = 0.0, on_error=None):
        self.settings = settings
        self.store = store
        self.topics = topics
        self.group = group
        self.name = name
        self.batch_max = batch_max
        self.yield_to = yield_to
        self.rest = rest
        self.on_error = on_error or (lambda _step, _error: None)  # the worker's heartbeat (Retrier)
        self.behind = False  # the last poll came back full: there is more waiting
        self.applied = 0
        self.failed = False
        self.duplicates = 0
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{name}"
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> LiveConsumer:
        self._thread = threading.Thread(target=self.run, name=self.name, daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def run(self) -> None:
        try:
            self._consume()
        except Exception:
            # Not a fault this loop knows how to wait out: a worker whose live path died while faust kept
            # beating would look healthy with a frozen wall. End the process; its supervisor (the
            # embedded stack, or the container's restart policy) starts a fresh one, which re-reads the
            # uncommitted batches.
            log.critical("%s: the live consumer failed; stopping the worker to be restarted", self.name,
                         exc_info=True)
            self.failed = True
            os.kill(os.getpid(), signal.SIGTERM)

    def _consume(self) -> None:
        c = kafka.consumer(self.settings, self.group, self.topics)
        try:
            while not self._stop.is_set():
                if self.yield_to is not None and self._today_is_behind():
                    time.sleep(0.02)  # a today's consumer is working off a backlog: it goes first
                    continue
                polled = c.consume(self.batch_max, POLL_S)
                behind = len(polled) >= self.batch_max
                if self.yield_to is None and (behind or self.behind):
                    self._shared(self.store.mark_today_behind, self.owner, behind)
                self.behind = behind
                values = []
                for m in polled:
                    if m.error():
                        log.warning("%s: consumer error: %s", self.name, m.error())
                    elif m.value() is not None:
                        values.append(m.value())
                if not values:
                    continue
                if self.yield_to is not None and not self._until_history_turn():
                    break  # stopped while waiting: do not commit, the batch comes again
                started = time.perf_counter()
                result = self._until_stored(values)
                if result is None:
                    self._end_history_turn()
                    break  # stopped while retrying: do not commit, the batch comes again
                self.applied += result[0]
                self.duplicates += result[1]
                if result[1]:
                    log.info("%s: skipped %d redelivered events", self.name, result[1])
                try:
                    c.commit(asynchronous=False)
                except KafkaException as exc:
                    # A rebalance while the batch was applied: it comes again and is found applied.
                    log.warning("%s: offset commit failed (the batch will be skipped when redelivered): %s",
                                self.name, exc)
                if self.rest:
                    self._stop.wait((time.perf_counter() - started) * self.rest)
                self._end_history_turn()
        finally:
            if self.yield_to is None and self.behind:
                self._shared(self.store.mark_today_behind, self.owner, False)
            self.behind = False
            c.close()

    # ---- today first, across worker processes (the Redis half: ecc.live.live_store) ----

    def _shared(self, call, *args, default=None):
        """A call to the shared bookkeeping; if Redis refuses, this process goes on by itself (`default`):
        the batches' own writes retry and report the fault (`_until_stored`)."""
        try:
            return call(*args)
        except redis.RedisError as exc:
            log.debug("%s: today-first bookkeeping unavailable: %s", self.name, exc)
            return default

    def _today_is_behind(self) -> bool:
        return self.yield_to.behind or bool(self._shared(self.store.today_behind, default=False))

    def _until_history_turn(self) -> bool:
        while not self._shared(self.store.take_history_turn, self.owner, HISTORY_TURN_S, default=True):
            if self._stop.wait(0.02):
                return False
        return True

    def _end_history_turn(self) -> None:
        if self.yield_to is not None:
            self._shared(self.store.end_history_turn, self.owner)

    def _until_stored(self, values: list[bytes]) -> tuple[int, int] | None:
        """Apply until Redis takes the batch (retrying with backoff), or None once stopped."""
        delay = BACKOFF_S[0]
        while not self._stop.is_set():
            try:
                result = self.store.apply_payloads(values)
            except redis.RedisError as exc:
                # Transient faults, and any other refusal of Redis (out of memory, a script error): retried
                # with the error in the worker's heartbeat, where health shows it, never skipped.
                error = describe(exc, 200)
                log.warning("%s: not stored, retrying the same batch in %.1fs: %s", self.name, delay, error)
                self.on_error(self.name, error)
                self._stop.wait(delay)
                delay = min(delay * 2, BACKOFF_S[1])
                continue
            self.on_error(self.name, None)
            return result
        return None


def start_live(settings: Settings, store: LiveStore, on_error=None) -> list[LiveConsumer]:
    """Today's consumer and the history consumer that yields to it, both started."""
    today = LiveConsumer(settings, store, [settings.topic_events], GROUP, "live", on_error=on_error)
    history = LiveConsumer(settings, store, [settings.topic_history], HISTORY_GROUP, "live-history",
                           batch_max=HISTORY_BATCH_MAX, yield_to=today, rest=HISTORY_REST,
                           on_error=on_error)
    return [today.start(), history.start()]
