"""The stream worker (faust-streaming): a thin adapter between Kafka and the pure code in `ecc/`.

Agents
- gate:    `ecc.raw` (upstream producers) -> validate -> `ecc.events` or `ecc.rejects`
- live:    `ecc.events` -> today's live counters in Redis (ecc.live_store, exactly once per event_id)
- rejects: `ecc.rejects` -> reject-rate counters

Delivery is at-least-once (tansu has no transactions); exactness comes from the live store's
idempotent writes, not from Kafka.
"""

from __future__ import annotations

import logging

import faust

from ecc import validate
from ecc.config import Settings
from ecc.events import Event, Rejection
from ecc.live_store import LiveStore

log = logging.getLogger(__name__)
BATCH_MAX = 2000
BATCH_WITHIN_S = 0.2


def create_app(settings: Settings, store: LiveStore) -> faust.App:
    app = faust.App(
        "ecc-worker",
        broker=f"kafka://{settings.kafka_bootstrap}",
        store="memory://",
        topic_partitions=settings.topic_partitions,
        topic_allow_declare=False,  # `ecc.kafka.ensure_topics` owns the topics
        broker_session_timeout=settings.broker_session_timeout,
        broker_heartbeat_interval=settings.broker_heartbeat_interval,
        broker_rebalance_timeout=settings.broker_rebalance_timeout,
        web_enabled=False,
        datadir=str(settings.data_path / "worker"),  # not the caller's working directory
    )
    raw_topic = app.topic(settings.topic_raw, value_serializer="raw", key_serializer="raw")
    events_topic = app.topic(settings.topic_events, value_serializer="raw", key_serializer="raw")
    rejects_topic = app.topic(settings.topic_rejects, value_serializer="raw", key_serializer="raw")

    @app.agent(raw_topic)
    async def gate(stream):
        async for values in stream.take(BATCH_MAX, within=BATCH_WITHIN_S):
            batch = validate.parse_lines(values, source="kafka", phone_key=settings.phone_hash_key)
            for event in batch.accepted:
                await events_topic.send(key=event.key.encode(), value=event.to_json())
            for rej in batch.rejected:
                await rejects_topic.send(key=rej.reject_id.encode(), value=rej.to_json())

    @app.agent(events_topic)
    async def live(stream):
        async for values in stream.take(BATCH_MAX, within=BATCH_WITHIN_S):
            applied, duplicates = store.apply([Event.from_json(v) for v in values])
            if duplicates:
                log.info("skipped %d redelivered events", duplicates)

    @app.agent(rejects_topic)
    async def rejects(stream):
        async for values in stream.take(BATCH_MAX, within=BATCH_WITHIN_S):
            store.record_rejections([Rejection.from_json(v) for v in values])

    @app.timer(interval=600.0)
    async def trim():
        store.trim()

    return app


def run(settings: Settings) -> None:
    """`ecc worker`: run until SIGTERM/SIGINT."""
    store = LiveStore.from_url(settings.redis_url, live_days=settings.live_days)
    app = create_app(settings, store)
    worker = faust.Worker(app, loglevel=settings.log_level.lower(), redirect_stdouts=False, quiet=True)
    worker.execute_from_commandline()
