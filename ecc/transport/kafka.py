"""Kafka-protocol plumbing shared by the door, the sink and the tests (confluent-kafka).

The faust worker has its own client (aiokafka); everything else uses librdkafka through these helpers,
configured for quick group joins on tansu (DESIGN.md: default session timeouts make joins take ~23 s).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import partial

from confluent_kafka import Consumer, KafkaException, Producer
from confluent_kafka.admin import AdminClient, NewTopic

from ecc import timeutil
from ecc.config import Settings

log = logging.getLogger(__name__)


class BrokerError(RuntimeError):
    """The broker refused or did not acknowledge a message."""


def topics(settings: Settings) -> list[str]:
    return [settings.topic_raw, settings.topic_events, settings.topic_rejects, settings.topic_history]


def event_topic(settings: Settings, ts_ms: int, today_start_ms: int) -> str:
    """Where an accepted event goes: today's topic, or the history topic for events before today
    (Shanghai), so that a backfill never queues in front of today's events (streams/live_consumer.py)."""
    return settings.topic_events if ts_ms >= today_start_ms else settings.topic_history


def today_start_ms() -> int:
    return int(timeutil.day_start(timeutil.today()).timestamp() * 1000)


def ensure_topics(settings: Settings, timeout: float = 10.0) -> None:
    """Create ECC's topics if they are missing (idempotent)."""
    admin = AdminClient({"bootstrap.servers": settings.kafka_bootstrap}, logger=log)
    existing = set(admin.list_topics(timeout=timeout).topics)
    wanted = [NewTopic(t, settings.topic_partitions, 1) for t in topics(settings) if t not in existing]
    if not wanted:
        return
    for name, future in admin.create_topics(wanted, request_timeout=timeout).items():
        try:
            future.result(timeout)
        except KafkaException as exc:
            if "TOPIC_ALREADY_EXISTS" not in str(exc):
                raise
        log.info("topic %s ready", name)


def producer(settings: Settings, **overrides: object) -> Producer:
    return Producer({
        "bootstrap.servers": settings.kafka_bootstrap,
        "linger.ms": 5,
        "acks": "all",
        "enable.idempotence": False,  # tansu has no idempotent-producer support; dedup is by event_id
        "queue.buffering.max.messages": 1_000_000,
        **overrides,
    }, logger=log)


def consumer(settings: Settings, group: str, subscribe: Iterable[str]) -> Consumer:
    c = Consumer({
        "bootstrap.servers": settings.kafka_bootstrap,
        "group.id": group,
        "auto.offset.reset": "earliest",
        "enable.auto.commit": False,  # commit only after the batch is stored: at-least-once
        "session.timeout.ms": int(settings.broker_session_timeout * 2000),
        "heartbeat.interval.ms": int(settings.broker_heartbeat_interval * 1000),
        "fetch.wait.max.ms": 50,
    }, logger=log)
    c.subscribe(list(subscribe))
    return c


@dataclass
class Delivery:
    """What the broker acknowledged of one `Publisher.deliver` call, message by message."""

    acked: list[bool]  # in the order the messages were given
    errors: list[str] = field(default_factory=list)  # the broker's (or the client's) reasons, distinct

    def count(self, start: int = 0, stop: int | None = None) -> int:
        return sum(self.acked[start:stop])


class Publisher:
    """Sends payloads; `deliver` says which ones the broker acknowledged (acks=all), `flush` fails loudly
    if any was not."""

    def __init__(self, settings: Settings, delivery_timeout: float | None = None):
        self.delivery_timeout = settings.publish_timeout if delivery_timeout is None else delivery_timeout
        # librdkafka gives up on a message after this long and reports it failed (_MSG_TIMED_OUT), so a
        # dead broker ends a flush with every message accounted for instead of leaving some in the queue.
        self._producer = producer(settings, **{"message.timeout.ms": int(self.delivery_timeout * 1000)})
        self._errors: list[str] = []

    def _on_delivery(self, err, _msg) -> None:
        if err is not None:
            self._errors.append(str(err))

    def send(self, topic: str, key: str | None, value: bytes, on_delivery=None) -> None:
        while True:
            try:
                self._producer.produce(topic, key=key, value=value,
                                       on_delivery=on_delivery or self._on_delivery)
                return
            except BufferError:  # local queue full: let librdkafka drain, then retry
                self._producer.poll(0.05)

    def flush(self, timeout: float = 30.0) -> None:
        left = self._producer.flush(timeout)
        if left or self._errors:
            errors, self._errors = self._errors, []
            raise BrokerError(f"{left} messages unsent, {len(errors)} failed: {errors[:3]}")

    def deliver(self, messages: Sequence[tuple[str, str | None, bytes]]) -> Delivery:
        """Send and wait: each message is acknowledged by the broker, or counted as not (with why)."""
        result = Delivery([False] * len(messages))
        reasons: dict[str, None] = {}

        def on_delivery(index: int, err, _msg) -> None:
            if err is None:
                result.acked[index] = True
            else:
                reasons.setdefault(str(err))
        for i, (topic, key, value) in enumerate(messages):
            self.send(topic, key, value, on_delivery=partial(on_delivery, i))
        left = self._producer.flush(self.delivery_timeout + 5)
        if left:
            reasons.setdefault(f"{left} messages still queued after {self.delivery_timeout + 5:.0f} s")
        result.errors = list(reasons)
        return result


def consumer_lag(settings: Settings, group: str, topic_names: Iterable[str],
                 timeout: float = 3.0) -> int | None:
    """Messages on the broker not yet committed by `group` (None if the broker cannot tell).

    tansu's end offsets are not reliable (DESIGN.md): treat this as a health hint, not an exact figure.
    """
    from confluent_kafka import TopicPartition

    probe = Consumer({"bootstrap.servers": settings.kafka_bootstrap, "group.id": group,
                      "enable.auto.commit": False}, logger=log)
    try:
        meta = probe.list_topics(timeout=timeout)
        parts = [TopicPartition(t, p) for t in topic_names if t in meta.topics
                 for p in meta.topics[t].partitions]
        committed = probe.committed(parts, timeout=timeout)
        lag = 0
        for tp in committed:
            _low, high = probe.get_watermark_offsets(tp, timeout=timeout)
            lag += max(0, high - max(tp.offset, 0))
        return lag
    except KafkaException as exc:
        log.warning("cannot read lag of %s: %s", group, exc)
        return None
    finally:
        probe.close()
