"""ClickHouse answers against the oracle, for generated messy scenarios, through the sink's write path.

Events are validated by the door and stored by `ecc.sink.store_batch` in arrival order and random batch
sizes, with a crash-style replay of a prefix, as the real sink would under redelivery.
"""

from __future__ import annotations

from datetime import timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from oracle import Oracle, make_asset
from scenarios import CHANNELS, DAY, PROVINCES, scenario

from ecc.contract.validate import validate
from ecc.olap import analytics, clickhouse, timeseries
from ecc.sink import SinkStats, store_batch

NOW = DAY + timedelta(days=2)
NOW_MS = int(NOW.timestamp() * 1000)
PERIODS = [(DAY, DAY + timedelta(days=1)), (DAY - timedelta(days=1), DAY + timedelta(days=1)),
           (DAY + timedelta(hours=9), DAY + timedelta(hours=15)),
           # edges inside hours: whole hours from the hourly rollup, the rest from the events
           (DAY + timedelta(hours=9, minutes=17, seconds=3.5), DAY + timedelta(hours=15, minutes=42)),
           (DAY + timedelta(minutes=59, seconds=59.999), DAY + timedelta(hours=1, minutes=0.5))]


def load(ch, events, cut, replay):
    normal = [validate(e, phone_key="k", now_ms=NOW_MS) for e in events]
    stats = SinkStats()
    for i in range(0, len(normal), cut):
        store_batch(ch, normal[i:i + cut], [], stats)
    store_batch(ch, normal[:replay], [], stats)


def comparable(kpis: dict) -> dict:
    out = {k: v for k, v in kpis.items() if k != "freshness_s"}
    out["wealth_preference"] = {p: v for p, v in (out["wealth_preference"] or {}).items() if v}
    out["wealth_preference_by_segment"] = {
        segment: {p: v for p, v in shares.items() if v}
        for segment, shares in (out.get("wealth_preference_by_segment") or {}).items()}
    return out


@st.composite
def segmented_scenario(draw) -> list[dict]:
    """A scenario whose accounts change segment: every snapshot gets a drawn segment ("" = none, the
    same for every copy of one event_id), and trading accounts get extra snapshots, some before the
    trades, some after, some after the period."""
    events = draw(scenario())
    segment = st.sampled_from(["wealth", "trading", "allocation", ""])
    chosen = {event_id: draw(segment)
              for event_id in sorted({e["event_id"] for e in events if e["type"] == "asset"})}
    out = []
    for event in events:
        if event["type"] == "asset":
            event = {k: v for k, v in event.items() if k != "segment"}
            event.update({"segment": chosen[event["event_id"]]} if chosen[event["event_id"]] else {})
        out.append(event)
    for account in sorted({e["account_id"] for e in events if e["type"] == "trade"}):
        for _ in range(draw(st.integers(0, 3))):
            ts = DAY + timedelta(seconds=draw(st.integers(-3_600, 90_000)))
            name = draw(segment)
            extra = make_asset(account, ts.isoformat(timespec="milliseconds"), {"cash": "1.00"},
                               **({"segment": name} if name else {}))
            out.insert(draw(st.integers(0, len(out))), extra)
    return out


def close(a, b) -> bool:
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(close(a[k], b[k]) for k in a)
    if isinstance(a, float) and isinstance(b, float):
        return abs(a - b) < 1e-9
    return a == b


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(events=segmented_scenario(), cut=st.integers(1, 40), replay=st.integers(0, 30),
       period=st.sampled_from(PERIODS), channel=st.sampled_from([None, *CHANNELS]),
       province=st.sampled_from([None, *PROVINCES]))
def test_kpis_match_oracle(ch, events, cut, replay, period, channel, province):
    clickhouse.truncate_all(ch)  # each generated example starts empty
    load(ch, events, cut, replay)
    start, end = period
    channels = [channel] if channel else []
    provinces = [province] if province else []
    got = comparable(analytics.kpis(ch, start, end, channels, provinces, now=NOW))
    oracle, chset, provset = Oracle(events), set(channels) or None, set(provinces) or None
    want = oracle.kpis(start, end, chset, provset, now=NOW)
    want["wealth_preference_by_segment"] = oracle.wealth_preference_by_segment(start, end, chset, provset)
    want = comparable(want)
    want["wealth_preference"] = {p: v for p, v in want["wealth_preference"].items() if v}
    assert close(got, want), {k: (got[k], want[k]) for k in got if not close(got.get(k), want.get(k))}


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(events=scenario(), window=st.sampled_from([1, 72]), channel=st.sampled_from([None, *CHANNELS]))
def test_funnel_assets_and_series_match_oracle(ch, events, window, channel):
    clickhouse.truncate_all(ch)  # each generated example starts empty
    load(ch, events, 25, 10)
    oracle = Oracle(events)
    start, end = DAY, DAY + timedelta(days=1)
    channels = [channel] if channel else []
    chset = set(channels) or None

    got = analytics.funnel(ch, start, end, window, channels, [])
    want = oracle.funnel(start, end, window, chset)
    assert got["cohort"] == want["cohort"]
    assert close(got["step_conversion"], want["step_conversion"])
    assert got["time_to_convert"]["count"] == len(want["time_to_convert_s"])

    for step in (1, 5, 10):
        got_rows = analytics.dropped(ch, start, end, step, window, channels, [], 10_000)
        got_ids = sorted(r["lead_id"] for r in got_rows)
        assert got_ids == sorted(r["lead_id"] for r in oracle.dropped(start, end, step, window, chset))
        # the call-back list: only leads idle for at least idle_hours at `now` (inside the day here)
        at = DAY + timedelta(hours=14)
        got_rows = analytics.dropped(ch, start, end, step, window, channels, [], 10_000, idle_hours=2, now=at)
        want = oracle.dropped(start, end, step, window, chset, idle_hours=2, now=at)
        assert sorted(r["lead_id"] for r in got_rows) == [r["lead_id"] for r in want]

    got_aum, want_aum = analytics.assets(ch, NOW, channels, []), oracle.aum(NOW, chset)
    assert got_aum["total"] == want_aum["total"]
    nonzero = lambda by_class: {k: v for k, v in by_class.items() if v}  # noqa: E731
    assert nonzero(got_aum["by_class"]) == nonzero(want_aum["by_class"])

    for metric in ("leads", "opened", "deposit_amount", "calls"):
        got_series = timeseries.series(ch, metric, "1h", start, end, channels, [])
        want_series = oracle.series(metric, "1h", start, end, chset)
        assert [p["value"] for p in got_series["points"]] == list(want_series.values()), metric


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(events=scenario(), channel=st.sampled_from([None, *CHANNELS]), interval=st.sampled_from(["1h", "1d"]),
       edges=st.sampled_from([(0, 0), (17 * 60 + 3.5, 13 * 60), (3599.999, 0.001)]))
def test_series_from_rollup_hours_and_edges_match_oracle(ch, events, channel, interval, edges):
    """Series of distinct counts read whole hours from facts_hourly and the period's edges from the
    events; the comparisons one day earlier come from the same states, shifted."""
    clickhouse.truncate_all(ch)
    load(ch, events, 7, 5)
    oracle = Oracle(events)
    start, end = DAY + timedelta(seconds=edges[0]), DAY + timedelta(days=1) - timedelta(seconds=edges[1])
    channels = [channel] if channel else []
    chset = set(channels) or None
    for metric in ("leads", "opened", "reach_2", *(() if channel else ("calls",))):
        got = timeseries.series(ch, metric, interval, start, end, channels, [])
        want = oracle.series(metric, interval, start, end, chset)
        assert [p["value"] for p in got["points"]] == list(want.values()), metric
        one_day = timedelta(days=1)
        day_before = oracle.series(metric, interval, start - one_day, end - one_day, chset)
        assert [p["value"] for p in got["previous_day"]] == list(day_before.values()), metric
