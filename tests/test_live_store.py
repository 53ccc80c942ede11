"""The live store (Redis + ecc/live.lua) against the oracle, over real Valkey."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import redis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from oracle import Oracle, make_deposit, make_lead, make_step
from scenarios import CHANNELS, DAY, scenario

from ecc.contract.validate import validate
from ecc.live.live_store import LiveStore

NOW_MS = int((DAY + timedelta(days=2)).timestamp() * 1000)


def normalise(raw: list[dict]):
    return [validate(e, phone_key="k", now_ms=NOW_MS) for e in raw]


def expected(oracle: Oracle, channel: str | None = None) -> dict:
    k = oracle.kpis(DAY, DAY + timedelta(days=1), channels={channel} if channel else None)
    return {"leads": k["leads"], "dialed_leads": k["dialed_leads"], "connected_leads": k["connected_leads"],
            "reach": {s: n for s, n in k["reach"].items()}, "opened": k["opened"],
            **({} if channel else {"rejects": k["rejects"], "first_deposits": k["first_deposits"],
                                   "deposit_amount": k["deposit_amount"], "net_inflow": k["net_inflow"],
                                   "deposit_rate": k["deposit_rate"]})}


def observed(snap: dict, channel: str | None = None) -> dict:
    t = snap["by_channel"].get(channel, {}) if channel else snap["totals"]
    if channel and not t:
        return {"leads": 0, "dialed_leads": 0, "connected_leads": 0,
                "reach": {str(s): 0 for s in range(1, 12)}, "opened": 0}
    out = {k: t[k] for k in ("leads", "dialed_leads", "connected_leads", "reach", "opened")}
    if not channel:
        out.update(rejects=t["rejects"], first_deposits=t["first_deposits"],
                   deposit_amount=Decimal(t["deposit_amount"]), net_inflow=Decimal(t["net_inflow"]),
                   deposit_rate=snap["ratios"]["deposit_rate"])
    return out


def assert_matches_oracle(store: LiveStore, events: list[dict]) -> None:
    """The day's totals and each channel's in Redis equal the oracle's over the same events."""
    oracle = Oracle(events)
    snap = store.snapshot(DAY.date())
    assert observed(snap) == expected(oracle)
    for ch in CHANNELS:
        assert observed(snap, ch) == expected(oracle, ch), ch


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(events=scenario(), cut=st.integers(1, 50), replay=st.integers(0, 40))
def test_live_counters_match_oracle(valkey_url, events, cut, replay):
    client = redis.Redis.from_url(valkey_url, decode_responses=True)
    client.flushdb()
    store = LiveStore(client)
    normal = normalise(events)
    # Batches of `cut`, then a crash-style redelivery of the first `replay` events: nothing counts twice.
    for i in range(0, len(normal), cut):
        store.apply(normal[i:i + cut], now=DAY.date())
    store.apply(normal[:replay], now=DAY.date())
    assert_matches_oracle(store, events)


def test_events_outside_live_window_are_left_to_clickhouse(redis_client):
    store = LiveStore(redis_client, live_days=2)
    old = normalise([make_lead("OLD", (DAY - timedelta(days=3)).isoformat())])
    assert store.apply(old, now=DAY.date()) == (0, 0)
    assert redis_client.keys("ecc:2026111*") == []


def test_trim_frees_what_earlier_releases_kept_per_account(redis_client):
    """Releases before 2026-11-30 kept each account's latest holdings in Redis (a field per account ever
    seen, growing without end) for an AUM nothing shows any more: the periodic trim frees them."""
    redis_client.hset("ecc:asset:key", mapping={"A1": "1|e1", "A2": "2|e2"})
    redis_client.hset("ecc:asset:val", mapping={"A1": "1,2,3,4,5", "A2": "5,4,3,2,1"})
    redis_client.hset("ecc:aum", mapping={"1": 6, "2": 6})
    LiveStore(redis_client).trim()
    assert not redis_client.exists("ecc:aum", "ecc:asset:key", "ecc:asset:val")


def test_deposit_channel_follows_the_opening_lead(redis_client):
    store = LiveStore(redis_client)
    t = DAY + timedelta(hours=10)
    store.apply(normalise([make_step("L1", 11, t.isoformat(), channel="wechat", account_id="A1"),
                           make_deposit("A1", (t + timedelta(minutes=5)).isoformat(), "12.34", first=True)]),
                now=DAY.date())
    snap = store.snapshot(DAY.date())
    assert snap["by_channel"]["wechat"]["deposit_amount"] == "12.34"
    assert snap["by_channel"]["wechat"]["first_deposits"] == 1
    assert snap["ratios"]["deposit_rate"] == 1.0


def test_snapshot_series_and_rates(redis_client):
    store = LiveStore(redis_client)
    t = DAY + timedelta(hours=9, minutes=30, seconds=5)
    minute = (t + timedelta(minutes=1)).isoformat()
    store.apply(normalise([make_lead("L1", t.isoformat()), make_lead("L2", minute), make_lead("L3", minute)]),
                now=DAY.date())
    snap = store.snapshot(DAY.date())
    assert snap["series"]["leads"] == [["09:30", 1], ["09:31", 2]]
    assert snap["ingest_rate"] == 3 / 60
    assert snap["freshness_s"] is not None and snap["previous_day"] == {"leads": 0, "opened": 0}
