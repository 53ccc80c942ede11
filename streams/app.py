"""The stream worker (faust-streaming): a thin adapter between Kafka and the pure code in `ecc/`.

Agents (faust, consumer group "ecc-gate")
- gate:    `ecc.raw` (upstream producers) -> validate -> `ecc.events` (today), `ecc.events.history` (before
           today, Shanghai) or `ecc.rejects`
- rejects: `ecc.rejects` -> reject-rate counters
Live counters (streams/live_consumer.py, threads of the same process, consumer group "ecc-worker"):
- `ecc.events` -> today's live counters in Redis (ecc.live.live_store, exactly once per event_id), in whole
  batches below faust's per-event stream: faust alone would cap the worker near 10,000 events/s;
- `ecc.events.history` -> the same, only while today's topic is not behind.

Delivery is at-least-once (tansu has no transactions); exactness comes from the live store's
idempotent writes, not from Kafka.

A batch is acknowledged only once it is stored: when Redis (or the broker, for the gate's sends) is
unreachable, the agent retries the same batch with backoff and the stream waits behind it. faust would
acknowledge a batch whose agent raised, and the counts would be lower for good (issue 6, finding 3).
The worker beats a heartbeat (`LiveStore.beat("worker")`) on every batch and every HEARTBEAT_S, with the
error it is retrying on, so that health can tell a stuck worker from a live one.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import faust
from aiokafka.errors import KafkaError

from ecc.config import Settings
from ecc.contract import validate
from ecc.contract.events import Event, Rejection
from ecc.live.live_store import LiveStore
from ecc.olap.faults import REDIS_TRANSIENT, describe
from ecc.transport.kafka import event_topic, today_start_ms
from streams.live_consumer import start_live

log = logging.getLogger(__name__)
BATCH_MAX = 2000
BATCH_WITHIN_S = 0.2
HEARTBEAT_S = 2.0
BACKOFF_S = (0.2, 5.0)  # first and longest wait between two tries of a batch
SEND_TRANSIENT = (KafkaError, asyncio.TimeoutError, ConnectionError, OSError)
# faust's aiokafka driver fixes the consumer's fetch wait at 1,500 ms, and tansu answers a waiting fetch only
# when that wait runs out (not when data arrives): every raw event would wait up to 1.5 s at the gate
# (bench/broker_latency.py). The live consumers use 50 ms (ecc.transport.kafka.consumer); so does the gate.
FETCH_WAIT_MS = 50


def shorten_fetch_wait(wait_ms: int = FETCH_WAIT_MS) -> None:
    """Make faust's aiokafka consumers wait at most `wait_ms` per fetch (faust has no setting for it)."""
    from faust.transport.drivers import aiokafka as driver

    original = driver.AIOKafkaConsumerThread._create_worker_consumer
    if getattr(original, "ecc_fetch_wait_ms", None) == wait_ms:
        return

    def create(self, transport):
        consumer = original(self, transport)
        if hasattr(consumer, "_fetch_max_wait_ms"):  # read by AIOKafkaConsumer.start() for its Fetcher
            consumer._fetch_max_wait_ms = wait_ms
        else:
            log.warning("aiokafka changed: the gate keeps faust's 1.5 s fetch wait")
        return consumer

    create.ecc_fetch_wait_ms = wait_ms
    create.ecc_original = getattr(original, "ecc_original", original)
    driver.AIOKafkaConsumerThread._create_worker_consumer = create


class Retrier:
    """Runs a step until it succeeds, retrying transient faults with backoff; remembers the current
    error of each step for the heartbeat."""

    def __init__(self, store: LiveStore):
        self.store = store
        self.errors: dict[str, str] = {}

    def note(self, step: str, error: str | None) -> None:
        """A step run outside the event loop (a live consumer thread) reports its error, or recovery."""
        if error:
            self.errors[step] = error
        elif self.errors.pop(step, None) is not None:
            log.info("%s: recovered", step)
        else:
            return
        self.beat()

    def beat(self) -> None:
        errors = dict(self.errors)  # a copy: the live consumer threads change it too
        self.store.beat("worker", error="; ".join(f"{k}: {v}" for k, v in errors.items()) or None)

    async def until_done(self, step: str, attempt: Callable[[], Any], transient: tuple) -> Any:
        delay = BACKOFF_S[0]
        while True:
            try:
                result = attempt()
                if isinstance(result, Awaitable):
                    result = await result
            except transient as exc:
                self.errors[step] = describe(exc, 200)
                log.warning("%s: not stored, retrying the same batch in %.1fs: %s", step, delay,
                            self.errors[step])
                self.beat()
                await asyncio.sleep(delay)
                delay = min(delay * 2, BACKOFF_S[1])
                continue
            if self.errors.pop(step, None) is not None:
                log.info("%s: recovered", step)
            self.beat()
            return result


def decoded(values: list[bytes], parse: Callable[[bytes], Any], what: str) -> list:
    """Decode a batch; a message that is not one is logged and left out (the sink dead-letters it)."""
    out = []
    for value in values:
        try:
            out.append(parse(value))
        except (ValueError, TypeError, KeyError, AttributeError, RecursionError) as exc:
            log.error("undecodable %s message skipped: %s", what, describe(exc))
    return out


def create_app(settings: Settings, store: LiveStore, retrier: Retrier | None = None) -> faust.App:
    shorten_fetch_wait()
    app = faust.App(
        "ecc-gate",  # not "ecc-worker": that group is the live consumers' (streams/live_consumer.py)
        broker=f"kafka://{settings.kafka_bootstrap}",
        store="memory://",
        topic_partitions=settings.topic_partitions,
        topic_allow_declare=False,  # `ecc.transport.kafka.ensure_topics` owns the topics
        broker_session_timeout=settings.broker_session_timeout,
        broker_heartbeat_interval=settings.broker_heartbeat_interval,
        broker_rebalance_timeout=settings.broker_rebalance_timeout,
        web_enabled=False,
        datadir=str(settings.data_path / "worker"),  # not the caller's working directory
    )
    raw_topic = app.topic(settings.topic_raw, value_serializer="raw", key_serializer="raw")
    events_topic = app.topic(settings.topic_events, value_serializer="raw", key_serializer="raw")
    history_topic = app.topic(settings.topic_history, value_serializer="raw", key_serializer="raw")
    rejects_topic = app.topic(settings.topic_rejects, value_serializer="raw", key_serializer="raw")
    retrier = retrier or Retrier(store)

    async def publish(accepted: list[Event], rejected: list[Rejection]) -> None:
        """Send now (not attached to the source offset) and wait for the broker's acknowledgements."""
        start = today_start_ms()
        futures = [await (events_topic if event_topic(settings, e.ts_ms, start) == settings.topic_events
                          else history_topic).send(key=e.key.encode(), value=e.to_json(), force=True)
                   for e in accepted]
        futures += [await rejects_topic.send(key=r.reject_id.encode(), value=r.to_json(), force=True)
                    for r in rejected]
        await asyncio.gather(*futures)

    @app.agent(raw_topic)
    async def gate(stream):
        async for values in stream.take(BATCH_MAX, within=BATCH_WITHIN_S):
            batch = validate.parse_lines(values, source="kafka", phone_key=settings.phone_hash_key,
                                         history_days=settings.history_days)
            # Re-sent whole on a failure: duplicates are dropped downstream by event_id / reject_id.
            await retrier.until_done("gate", lambda b=batch: publish(b.accepted, b.rejected), SEND_TRANSIENT)

    @app.agent(rejects_topic)
    async def rejects(stream):
        async for values in stream.take(BATCH_MAX, within=BATCH_WITHIN_S):
            rejections = decoded(values, Rejection.from_json, "dead letter")
            await retrier.until_done("rejects", lambda r=rejections: store.record_rejections(r),
                                     REDIS_TRANSIENT)

    @app.timer(interval=HEARTBEAT_S)
    async def heartbeat():
        retrier.beat()

    @app.timer(interval=600.0)
    async def trim():
        try:
            store.trim()
        except REDIS_TRANSIENT as exc:
            log.warning("trim skipped, Redis unreachable: %s", describe(exc))

    return app


def run(settings: Settings) -> None:
    """`ecc worker`: run until SIGTERM/SIGINT."""
    store = LiveStore.from_url(settings.redis_url, live_days=settings.live_days)
    retrier = Retrier(store)
    app = create_app(settings, store, retrier)
    worker = faust.Worker(app, loglevel=settings.log_level.lower(), redirect_stdouts=False, quiet=True)
    consumers = start_live(settings, store, on_error=retrier.note)
    try:
        worker.execute_from_commandline()
    finally:
        for consumer in consumers:
            consumer.stop()
