"""The door and the ClickHouse sink over a real tansu broker and chDB: exactly once under redelivery."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from waiting import wait_until

from ecc.contract.events import Event
from ecc.embedded import free_port
from ecc.olap import clickhouse
from ecc.olap.faults import PermanentFault, TransientFault, classify
from ecc.sink import GROUP, Sink, SinkStats, store_batch
from ecc.sink_batches import by_partition, first_by_id
from ecc.transport import kafka
from ecc.transport.ingest import Door

LEAD = {"event_id": "l-1", "type": "lead", "ts": "2026-11-21T09:30:05.120+08:00", "lead_id": "L1",
        "channel": "douyin", "phone": "13812341234"}


@pytest.fixture
def stack_settings(settings, broker, request):
    # Fresh topics per test: tansu keeps everything in memory for the session.
    tag = request.node.name.replace("[", "_").replace("]", "")[:40]
    s = settings.with_(kafka_bootstrap=broker, topic_raw=f"raw.{tag}", topic_events=f"events.{tag}",
                       topic_rejects=f"rejects.{tag}", sink_batch_seconds=0.2)
    kafka.ensure_topics(s)
    return s


def count(ch, sql):
    return ch.query(sql).result_rows[0][0]


def test_first_by_id_keeps_first_in_arrival_order():
    assert first_by_id(["a1", "b1", "a2"], lambda s: s[0]) == ["a1", "b1"]


def test_door_to_clickhouse_exactly_once(stack_settings, ch):
    door = Door(stack_settings)
    lines = [json.dumps(LEAD, ensure_ascii=False),
             json.dumps({**LEAD, "event_id": "l-2", "lead_id": "L2"}),
             json.dumps({**LEAD, "province": "广东"}),  # same event_id, same key: a redelivery, dropped
             '{"event_id": "bad", "type": "lead", "phone": "13899998888"}']
    result = door.publish_lines(lines, "file")
    assert (result.accepted, result.rejected) == (3, 1)
    sink = Sink(stack_settings, ch).start()
    try:
        assert wait_until(lambda: count(ch, "SELECT count() FROM events") == 2
                          and count(ch, "SELECT count() FROM rejects") == 1)
        # A redelivery much later (new batch, other path) is still dropped.
        door.publish_lines(lines[:2], "http")
        assert wait_until(lambda: sink.stats.redelivered >= 2)
    finally:
        sink.stop()
    assert count(ch, "SELECT count() FROM events") == 2
    assert count(ch, "SELECT count() FROM rejects") == 1
    assert ch.query("SELECT province FROM events WHERE event_id = 'l-1'").result_rows == [("",)]
    stored = json.dumps(ch.query("SELECT * FROM events").result_rows, default=str)
    raw_rejects = json.dumps(ch.query("SELECT raw, reason FROM rejects").result_rows, ensure_ascii=False)
    assert "13812341234" not in stored and "138****1234" in stored
    assert "13899998888" not in raw_rejects and "ts is missing" in raw_rejects
    assert set(clickhouse.existing_ids(ch, ["l-1", "nope"])) == {"l-1"}


# ---- poison batches (issue 6, finding 1): split by partition, dead-letter what the store refuses ----

def publish_events(s, events, extra: list[bytes] = ()) -> None:
    """Straight onto ecc.events, as an older door or another producer could have put them there."""
    pub = kafka.Publisher(s)
    for e in events:
        pub.send(s.topic_events, e.key, e.to_json())
    for value in extra:
        pub.send(s.topic_events, None, value)
    pub.flush()


def committed(s, topic: str) -> int:
    """Messages of `topic` the sink group has committed (sum over partitions)."""
    from confluent_kafka import Consumer, TopicPartition

    probe = Consumer({"bootstrap.servers": s.kafka_bootstrap, "group.id": GROUP, "enable.auto.commit": False})
    try:
        parts = probe.committed([TopicPartition(topic, p) for p in range(s.topic_partitions)], timeout=10)
        return sum(max(tp.offset, 0) for tp in parts)
    finally:
        probe.close()


def monthly_leads(n: int, prefix: str = "p") -> list[Event]:
    """n leads, one per month from 2000-01 on (finding 1: 150 months made one insert fail for good)."""
    return [Event(event_id=f"{prefix}{i}", type="lead", lead_id=f"P{i}", channel="douyin",
                  ts_ms=int(datetime(2000 + i // 12, i % 12 + 1, 15, 4, tzinfo=UTC).timestamp() * 1000))
            for i in range(n)]


def test_by_partition_never_exceeds_the_limit():
    items = [(month, i) for month in range(150) for i in range(3)]
    chunks = by_partition(items, lambda item: item[0], limit=90)
    assert [len({m for m, _ in chunk}) for chunk in chunks] == [90, 60]
    assert sorted(x for chunk in chunks for x in chunk) == sorted(items)


def test_one_insert_over_150_months_is_refused_by_clickhouse(ch):
    """The reproduction at the store: why the sink must split (and that the split is still needed)."""
    with pytest.raises(Exception) as refused:
        clickhouse.insert_events(ch, monthly_leads(150))
    assert classify(refused.value) is PermanentFault
    assert "TOO_MANY_PARTS" in str(refused.value) or refused.value.name == "TOO_MANY_PARTS"


def test_150_months_land_and_later_batches_flow(stack_settings, ch):
    s = stack_settings
    publish_events(s, monthly_leads(150))
    sink = Sink(s, ch).start()
    try:
        assert wait_until(lambda: count(ch, "SELECT count() FROM events") == 150, 30), sink.stats
        assert wait_until(lambda: committed(s, s.topic_events) == 150, 10)
        publish_events(s, monthly_leads(5, prefix="later"))
        assert wait_until(lambda: count(ch, "SELECT count() FROM events") == 155, 20), sink.stats
    finally:
        sink.stop()
    assert sink.stats.dead_letters == 0 and sink.stats.state == "stopped" and sink.stats.errors == 0


def test_a_refused_row_is_dead_lettered_and_the_rest_lands(stack_settings, ch):
    s = stack_settings
    good = monthly_leads(9)
    huge = Event(event_id="huge", type="deposit", account_id="A1", direction="in", ts_ms=good[0].ts_ms,
                 amount="123456789012345678901234567890.12")  # Decimal(18, 2) refuses it
    publish_events(s, [*good[:4], huge, *good[4:]], extra=[b"\xff not json", b'{"type": "lead"}'])
    sink = Sink(s, ch).start()
    try:
        assert wait_until(lambda: count(ch, "SELECT count() FROM rejects") == 3, 30), sink.stats
        assert wait_until(lambda: committed(s, s.topic_events) == 12, 10)
    finally:
        sink.stop()
    assert count(ch, "SELECT count() FROM events") == 9
    assert count(ch, "SELECT count() FROM events WHERE event_id = 'huge'") == 0
    rows = ch.query("SELECT reason, raw, source FROM rejects ORDER BY reason").result_rows
    refused = [r for r in rows if "huge" in r[1]]
    assert len(refused) == 1 and "ClickHouse refused the event" in refused[0][0] and "amount" in refused[0][0]
    assert all(source == "sink" for *_, source in rows)
    assert sum("not a stored event" in reason for reason, *_ in rows) == 2
    assert sink.stats.dead_letters == 1


def test_redelivered_refused_row_is_dead_lettered_once(ch):
    huge = Event(event_id="huge", type="trade", account_id="A1", product="fund", ts_ms=1_700_000_000_000,
                 amount="1e40")
    stats = SinkStats()
    store_batch(ch, [huge], [], stats)
    store_batch(ch, [huge], [], stats)
    assert count(ch, "SELECT count() FROM rejects") == 1 and stats.dead_letters == 2 and stats.rejects == 1


def test_transient_fault_is_retried_not_committed_and_shown(stack_settings, ch):
    """The events table is away (an operator's migration): every row would fail, so this is not the
    data's fault. The sink retries the same batch, commits nothing, says so, and lands it afterwards."""
    s = stack_settings
    ch.command("RENAME TABLE events TO events_away")
    try:
        publish_events(s, monthly_leads(3))
        sink = Sink(s, ch).start()
        assert wait_until(lambda: sink.stats.state == "retrying", 20), sink.stats
        assert "UNKNOWN_TABLE" in sink.stats.last_error and sink.stats.retrying_since is not None
        assert not sink.stats.healthy and sink.stats.as_dict()["state"] == "retrying"
        assert committed(s, s.topic_events) == 0
    finally:
        ch.command("RENAME TABLE events_away TO events")
    try:
        assert wait_until(lambda: count(ch, "SELECT count() FROM events") == 3, 30), sink.stats
        assert wait_until(lambda: committed(s, s.topic_events) == 3, 10)
        assert sink.stats.state == "ok" and sink.stats.healthy and sink.stats.dead_letters == 0
    finally:
        sink.stop()


def test_unreachable_clickhouse_is_retried(stack_settings):
    closed = free_port()
    s = stack_settings.with_(clickhouse_dsn=f"http://127.0.0.1:{closed}/default")
    publish_events(s, monthly_leads(2))
    sink = Sink(s).start()
    try:
        assert wait_until(lambda: sink.stats.state == "retrying" and sink.stats.errors >= 2, 20), sink.stats
        assert "Connection refused" in sink.stats.last_error
    finally:
        sink.stop()
    assert committed(s, s.topic_events) == 0


def test_fault_classes():
    import redis
    from clickhouse_connect.driver.exceptions import DatabaseError, DataError

    assert classify(redis.ConnectionError("down")) is TransientFault
    assert classify(DataError("Unable to create native array for column `amount`")) is PermanentFault
    assert classify(DatabaseError("x", code=60, name="UNKNOWN_TABLE")) is TransientFault
    merges = DatabaseError("Too many parts (300). Merges are processing significantly slower than inserts",
                           code=252, name="TOO_MANY_PARTS")
    assert classify(merges) is TransientFault
    assert classify(DatabaseError("Too many partitions for single INSERT block", code=252,
                                  name="TOO_MANY_PARTS")) is PermanentFault
    assert classify(ValueError("bad decimal")) is PermanentFault
