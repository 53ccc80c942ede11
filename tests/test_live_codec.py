"""The stream worker's hot path: Kafka payloads decoded straight to Lua records (ecc.live.live_codec), one Lua
call per batch, against the oracle over real Valkey; and the routing of past days to the history topic."""

from __future__ import annotations

from datetime import timedelta

import redis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from oracle import make_asset, make_deposit, make_lead, make_trade
from scenarios import DAY, scenario
from test_live_store import NOW_MS, assert_matches_oracle, normalise

from ecc import timeutil
from ecc.config import Settings
from ecc.live import live_codec
from ecc.live.live_store import LiveStore
from ecc.transport import kafka


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(events=scenario(), cut=st.integers(1, 60), replay=st.integers(0, 40))
def test_payload_path_matches_oracle(valkey_url, events, cut, replay):
    """The worker's path (bytes -> record, no Event) gives the oracle's numbers, redeliveries included."""
    client = redis.Redis.from_url(valkey_url, decode_responses=True)
    client.flushdb()
    store = LiveStore(client)
    payloads = [e.to_json() for e in normalise(events)]
    for i in range(0, len(payloads), cut):
        store.apply_payloads(payloads[i:i + cut], now=DAY.date())
    store.apply_payloads(payloads[:replay], now=DAY.date())
    assert_matches_oracle(store, events)


@given(events=scenario())
def test_payload_and_event_give_the_same_record(events):
    for event in normalise(events):
        assert live_codec.from_payload(live_codec.decode(event.to_json())) == live_codec.from_event(event)


@given(yuan=st.integers(1, 9_999_999_999), cents=st.integers(0, 99))
def test_amounts_stay_exact_in_fen(yuan, cents):
    """Money crosses Lua as decimal strings of fen: no float on the way (the door's largest amount)."""
    raw = make_deposit("A1", (DAY + timedelta(hours=1)).isoformat(), f"{yuan}.{cents:02d}")
    record = live_codec.from_payload(live_codec.decode(normalise([raw])[0].to_json()))
    assert record[-1] == str(yuan * 100 + cents)


def test_big_sums_exact_through_lua_and_asset_snapshots_only_fresh(redis_client):
    store = LiveStore(redis_client)
    t = DAY + timedelta(hours=9)
    # 100 deposits of the largest amount: 9.99e13 fen, past 2**53 where a float would lose the cents
    raw = [make_deposit(f"A{i}", (t + timedelta(seconds=i)).isoformat(), "9999999999.99") for i in range(100)]
    raw += [make_deposit("A2", (t + timedelta(minutes=2)).isoformat(), "0.01"),
            make_trade("A1", (t + timedelta(minutes=3)).isoformat(), "1234567890.12", product="fund"),
            make_asset("A1", (t + timedelta(minutes=4)).isoformat(),
                       {"stock": "9999999999.99", "cash": "0.01"}),
            make_asset("A1", (t + timedelta(minutes=3)).isoformat(), {"stock": "1"})]  # older: ignored
    assert store.apply_payloads([e.to_json() for e in normalise(raw)], now=DAY.date()) == (104, 0)
    snap = store.snapshot(DAY.date())
    assert snap["totals"]["deposit_amount"] == "999999999999.01"
    assert snap["totals"]["trade_amount"]["fund"] == "1234567890.12"
    assert "aum" not in snap  # AUM is every account's latest snapshot however old: from ClickHouse
    assert not redis_client.exists("ecc:aum", "ecc:asset:key", "ecc:asset:val")
    assert redis_client.hget("ecc:fresh", "all") == str(int((t + timedelta(minutes=4)).timestamp() * 1000))


def test_undecodable_payload_does_not_stop_the_batch(redis_client):
    store = LiveStore(redis_client)
    good = normalise([make_lead("L1", (DAY + timedelta(hours=1)).isoformat()),
                      make_lead("L2", (DAY + timedelta(hours=2)).isoformat())])
    batch = [good[0].to_json(), b"not json", b"[1, 2]", b'{"type": "lead"}', good[1].to_json()]
    assert store.apply_payloads(batch, now=DAY.date()) == (2, 0)
    assert store.snapshot(DAY.date())["totals"]["leads"] == 2


def test_history_topic_takes_events_before_today():
    s = Settings(topic_events="today", topic_history="past")
    start = kafka.today_start_ms()
    assert timeutil.day_key(start) == timeutil.day_key(timeutil.now_ms())
    assert timeutil.day_key(start - 1) != timeutil.day_key(start)
    assert kafka.event_topic(s, start, start) == "today"
    assert kafka.event_topic(s, start - 1, start) == "past"
    assert kafka.event_topic(s, NOW_MS, NOW_MS + 1) == "past"
    assert "past" in kafka.topics(s)


def test_leads_of_two_records_share_nothing_by_position():
    """A lead record has no padding: its lead id is the 7th field and nothing follows."""
    record = live_codec.from_event(normalise([make_lead("L9", (DAY + timedelta(hours=3)).isoformat())])[0])
    assert record[0] == "lead" and record[6] == "L9" and len(record) == 7
    assert record[2] == "20261121" and record[3] == "03:00"
