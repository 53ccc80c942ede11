"""Property: whatever bytes and JSON values are mixed with good lines, the real door (transport.ingest.Door
publishing to a real tansu broker) accepts every good line, gives every bad line exactly one dead letter
with a reason, never raises, and lets no raw phone number through (issue 6, deliver 2 and 4)."""

from __future__ import annotations

import itertools
import json
import time
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pii_scan import PHONE_FORMS, find_phones

from ecc.config import Settings
from ecc.contract.events import Event, Rejection
from ecc.transport import kafka
from ecc.transport.ingest import Door

_counter = itertools.count()
TS = (datetime.now(UTC) - timedelta(minutes=10)).isoformat()
JSON_SPACE = b" \t\r\n"

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20)
    | st.sampled_from(PHONE_FORMS),
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=12)


def _bad_bytes(raw: bytes) -> bytes | None:
    line = raw.replace(b"\n", b" ").replace(b"\r", b" ")
    return None if not line.lstrip(b"\xef\xbb\xbf").strip(JSON_SPACE) else line  # blank lines are skipped


bad_lines = st.one_of(
    st.binary(max_size=64).map(_bad_bytes).filter(lambda b: b is not None),
    json_values.map(lambda v: json.dumps(v, ensure_ascii=False).encode()),
    st.sampled_from(PHONE_FORMS).map(lambda p: json.dumps({"event_id": "x", "type": p, "ts": TS}).encode()),
    st.sampled_from([b"[" * 5000, b'{"a":' * 40 + b"1" + b"}" * 40, b'{"amount": NaN}', b"9" * 4500,
                     b'{"event_id":"e","type":"lead","lead_id":"\xff","channel":"x","ts":"'
                     + TS.encode() + b'"}']),
)
good_marker = st.sampled_from((*PHONE_FORMS, "", "上海"))
items = st.lists(st.one_of(good_marker.map(lambda p: ("good", p)), bad_lines.map(lambda b: ("bad", b))),
                 min_size=1, max_size=25)


@pytest.fixture(scope="module")
def door_and_reader(broker, tmp_path_factory):
    tag = f"prop{time.monotonic_ns()}"
    s = Settings(data_dir=str(tmp_path_factory.mktemp("prop")), phone_hash_key="k", kafka_bootstrap=broker,
                 topic_raw=f"raw.{tag}", topic_events=f"events.{tag}", topic_rejects=f"rejects.{tag}",
                 topic_partitions=1, publish_timeout=10)
    kafka.ensure_topics(s)
    reader = kafka.consumer(s, f"reader.{tag}", [s.topic_events, s.topic_rejects])
    yield Door(s), reader, s
    reader.close()


def read(reader, s: Settings, events: int, rejects: int, timeout: float = 20.0):
    got_events: list[bytes] = []
    got_rejects: list[bytes] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and (len(got_events) < events or len(got_rejects) < rejects):
        msg = reader.poll(0.2)
        if msg is None or msg.error():
            continue
        (got_events if msg.topic() == s.topic_events else got_rejects).append(msg.value())
    return got_events, got_rejects


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(items=items)
def test_bad_lines_never_take_good_ones_down(door_and_reader, items):
    door, reader, s = door_and_reader
    lines, good_ids, bad_at = [], set(), []
    for i, (kind, payload) in enumerate(items):
        if kind == "good":
            event_id = f"g{next(_counter)}"
            good_ids.add(event_id)
            event = {"event_id": event_id, "type": "lead", "ts": TS, "lead_id": f"L-{event_id}",
                     "channel": "douyin", "campaign": f"c {payload}", "phone": "13812341234"}
            lines.append(json.dumps(event, ensure_ascii=False).encode())
        else:
            bad_at.append(i)
            lines.append(payload)

    result = door.publish_lines(lines, "http")  # must not raise, whatever the lines

    assert (result.accepted, result.rejected, result.unacknowledged) == (len(good_ids), len(bad_at), 0)
    assert sorted(e["index"] for e in result.errors) == bad_at and all(e["reason"] for e in result.errors)
    events, rejects = read(reader, s, len(good_ids), len(bad_at))
    assert {Event.from_json(v).event_id for v in events} == good_ids and len(events) == len(good_ids)
    dead = [Rejection.from_json(v) for v in rejects]
    assert sorted(r.index for r in dead) == bad_at and all(r.reason for r in dead)
    for payload in events + rejects:
        assert find_phones(payload) == [], payload[:300]
