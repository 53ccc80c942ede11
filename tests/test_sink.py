"""The door and the ClickHouse sink over a real tansu broker and chDB: exactly once under redelivery."""

from __future__ import annotations

import json

import pytest
from waiting import wait_until

from ecc import clickhouse, kafka
from ecc.ingest import Door
from ecc.sink import Sink, first_by_id

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
