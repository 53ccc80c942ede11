"""The simulator: deterministic, believable, and every item is what the door expects (valid or rejected)."""

from __future__ import annotations

import random
import re
from collections import Counter, defaultdict
from datetime import date
from decimal import Decimal

import pytest

from ecc.contract import catalogue
from ecc.contract.validate import InvalidEvent, decode, parse_lines, validate
from ecc.sim import simulate
from ecc.sim.simulate import HOUR, MINUTE, SimConfig, Simulator

DAY = date(2026, 11, 20)  # a Friday: weekends are lighter (test_weekends_are_lighter)
START, END = simulate.day_bounds(DAY)
NOISE = {"duplicates": .03, "late": .03, "bad": .02}


def at(hhmm: str, on_ms: int = START) -> int:
    hours, minutes = map(int, hhmm.split(":"))
    return on_ms + hours * HOUR + minutes * MINUTE


def lines_of(items):
    return [simulate.to_line(item) for _, item in items]


def accepted(items) -> list:
    """Decode and validate every valid item exactly as the door would at its emission time."""
    return [validate(decode(simulate.to_line(item)), phone_key="k", now_ms=emit)
            for emit, item in items if not simulate.is_bad(item)]


def first_copies(events) -> list:
    seen, out = set(), []
    for event in events:
        if event.event_id not in seen:
            seen.add(event.event_id)
            out.append(event)
    return out


def raw_events(config: SimConfig, start: int, end: int) -> list[dict]:
    return [item for _, item in simulate.generate(config, start, end)]


@pytest.fixture(scope="module")
def noisy_run():
    """A whole Shanghai day at a low rate (~130k items) with every kind of noise, plus an hour so that
    late copies of the day's last events arrive too."""
    return list(simulate.generate(SimConfig(seed=11, rate=1.5, **NOISE), START, END + HOUR))


@pytest.fixture(scope="module")
def noisy_day(noisy_run):
    return [(emit, item) for emit, item in noisy_run if emit < END]


@pytest.fixture(scope="module")
def checked_run(noisy_run):
    """(emit_ms, raw item, Event as the door accepted it) for every valid item (InvalidEvent otherwise)."""
    valid = [(emit, item) for emit, item in noisy_run if not simulate.is_bad(item)]
    return [(emit, item, event) for (emit, item), event in zip(valid, accepted(valid), strict=True)]


@pytest.fixture(scope="module")
def checked_day(checked_run):
    return [checked for checked in checked_run if checked[0] < END]


@pytest.fixture(scope="module")
def day_events(checked_run):
    """The day's distinct facts (event ts in the day), whenever they were emitted."""
    return [e for e in first_copies(event for _, _, event in checked_run) if e.ts_ms < END]


# ---- determinism and shape of the stream ----

def test_same_seed_same_stream_and_other_seed_another():
    one = lines_of(simulate.generate(SimConfig(seed=5, rate=10, **NOISE), at("10:00"), at("10:20")))
    two = lines_of(simulate.generate(SimConfig(seed=5, rate=10, **NOISE), at("10:00"), at("10:20")))
    other = lines_of(simulate.generate(SimConfig(seed=6, rate=10, **NOISE), at("10:00"), at("10:20")))
    assert len(one) > 10_000 and one == two
    assert one != other


def test_windows_do_not_change_the_stream():
    config = SimConfig(seed=3, rate=10, **NOISE)
    whole = Simulator(config, at("09:30")).advance(at("10:00"))
    sliced_sim = Simulator(config, at("09:30"))
    sliced = []
    for until in range(at("09:30") + 7_777, at("10:00"), 7_777):  # odd windows, not aligned to seconds
        sliced += sliced_sim.advance(until)
    sliced += sliced_sim.advance(at("10:00"))
    assert len(whole) > 15_000 and lines_of(sliced) == lines_of(whole)
    assert [emit for emit, _ in sliced] == [emit for emit, _ in whole]


def test_noise_wraps_the_same_business_facts():
    clean = list(simulate.generate(SimConfig(seed=9, rate=10), at("10:00"), at("10:45")))
    noisy = list(simulate.generate(SimConfig(seed=9, rate=10, **NOISE), at("10:00"), at("10:45")))
    settled = at("10:10")  # late copies of earlier events may still be on their way at 10:45
    clean_lines = {simulate.to_line(item) for emit, item in clean if emit < settled}
    noisy_lines = {simulate.to_line(item) for _, item in noisy if not simulate.is_bad(item)}
    assert clean_lines <= noisy_lines
    assert all(not simulate.is_bad(item) for _, item in clean)


def test_emission_order_and_no_event_from_the_future(noisy_day, checked_day):
    emits = [emit for emit, _ in noisy_day]
    assert emits == sorted(emits) and emits[0] >= START and emits[-1] < END
    assert all(event.ts_ms <= emit for emit, _, event in checked_day)


def test_every_valid_item_passes_the_door(checked_day):
    # the fixture validated each one (InvalidEvent on the first the door would reject)
    assert {event.type for _, _, event in checked_day} == set(catalogue.EVENT_TYPES)


def test_every_bad_item_is_rejected_by_the_door(noisy_day):
    bad = [(emit, item) for emit, item in noisy_day if simulate.is_bad(item)]
    assert 0.01 < len(bad) / len(noisy_day) < 0.03
    reasons = Counter()
    for emit, line in bad:
        assert "\n" not in line
        batch = parse_lines([line], source="test", phone_key="k", now_ms=emit)
        assert not batch.accepted and len(batch.rejected) == 1, line
        reasons[re.sub(r"[^a-z ]", "", batch.rejected[0].reason.split(":")[0])[:20]] += 1
    assert len(reasons) >= 8  # many different ways to be wrong


def test_malformed_covers_every_kind_for_every_type():
    sim = Simulator(SimConfig(seed=2, rate=2), at("10:00"))
    samples = {}
    for emit, event in sim.advance(at("14:00")):
        samples.setdefault(event["type"], (emit, event))
    assert set(samples) == set(catalogue.EVENT_TYPES)
    rng = random.Random(0)
    for emit, event in samples.values():
        for _ in range(200):
            line = simulate.malformed(event, emit, rng)
            assert not parse_lines([line], source="test", phone_key="k", now_ms=emit).accepted, line


# ---- the business model ----

def test_steps_of_a_lead_come_in_order(day_events):
    lead_ts = {e.lead_id: e.ts_ms for e in day_events if e.type == "lead"}
    steps = defaultdict(list)
    for event in day_events:
        if event.type == "step":
            steps[event.lead_id].append(event)
    opened = set()
    for lead_id, events in steps.items():
        events.sort(key=lambda e: e.ts_ms)
        done = [e.step for e in events if e.status == "done"]
        assert done == list(range(1, len(done) + 1)), lead_id
        assert lead_ts[lead_id] < events[0].ts_ms
        for i, event in enumerate(events):
            if event.status == "rejected":
                assert event.step in (2, 8, 10) and event.reason
                assert all(e.step == event.step and e.status == "done" for e in events[i + 1:i + 2])
            if event.step == 11:
                assert event.account_id
                opened.add(event.account_id)
    money = [e for e in day_events if e.type in ("deposit", "asset", "trade")]
    assert money and all(e.account_id in opened for e in money)


def test_funnel_and_calls_are_plausible(day_events):
    leads = {e.lead_id for e in day_events if e.type == "lead"}
    reach = defaultdict(set)
    for event in day_events:
        if event.type == "step" and event.status == "done":
            reach[event.step].add(event.lead_id)
    # cohort: leads that started before 20:00 had time to finish; 1 -> 11 is roughly a third
    early = {e.lead_id for e in day_events if e.type == "step" and e.step == 1 and e.ts_ms < at("20:00")}
    conversion = len(early & reach[11]) / len(early)
    assert 0.2 < conversion < 0.5
    for k in range(1, 11):
        assert 0.75 < len(reach[k + 1] & early) / len(reach[k] & early) < 0.99, k
    calls = [e for e in day_events if e.type == "call"]
    assert 0.4 < sum(c.outcome == "connected" for c in calls) / len(calls) < 0.6
    daytime = {e.lead_id for e in day_events if e.type == "lead" and at("08:00") <= e.ts_ms < at("20:00")}
    dialed = {c.lead_id for c in calls}
    assert 0.95 < len(daytime & dialed) / len(daytime) <= 1
    assert {c.caller for c in calls} == {"robot", "agent"}
    assert len(leads) > 10_000


def test_channels_differ_in_volume_and_quality(day_events):
    channel = {e.lead_id: e.channel for e in day_events if e.type == "lead"}
    assert set(channel.values()) == set(catalogue.CHANNELS)
    volume = Counter(channel.values())
    assert min(volume["douyin"], volume["app_store"]) > 4 * volume["branch_referral"]
    reach = defaultdict(set)
    for event in day_events:
        if event.type == "step" and event.status == "done" and event.step in (1, 11):
            reach[event.step, channel[event.lead_id]].add(event.lead_id)
    rate = {c: len(reach[11, c]) / len(reach[1, c]) for c in ("douyin", "branch_referral")}
    assert rate["branch_referral"] > rate["douyin"] + 0.1


def test_diurnal_curve(day_events):
    leads = [e for e in day_events if e.type == "lead"]
    per_hour = Counter(simulate.timeutil.to_local(e.ts_ms).hour for e in leads)
    assert per_hour[10] > 10 * per_hour[3]
    assert per_hour[20] > per_hour[17] > per_hour[3]
    assert abs(sum(simulate.DIURNAL) / len(simulate.DIURNAL) - 1) < 1e-9


def test_daily_rate_matches_the_configured_average():
    items = list(simulate.day(DAY, SimConfig(seed=4, rate=1)))
    assert 0.9 < len(items) / 86_400 < 1.1


def test_weekends_are_lighter_and_hold_no_exchange_session():
    saturday = date(2026, 11, 21)
    weekend = [e for e in simulate.day(saturday, SimConfig(seed=4, rate=1))]
    friday = [e for e in simulate.day(DAY, SimConfig(seed=4, rate=1))]
    leads = {name: sum(e["type"] == "lead" for e in events)
             for name, events in (("saturday", weekend), ("friday", friday))}
    assert 0.5 < leads["saturday"] / leads["friday"] < 0.7
    assert any(e["type"] == "trade" and e["product"] == "fund" for e in weekend)  # fund orders any day
    assert not [e for e in weekend if e["type"] == "trade" and e["product"] in ("stock", "bond")]
    assert [e for e in friday if e["type"] == "trade" and e["product"] == "stock"]


def test_weekend_sessions_move_to_monday():
    saturday_10 = simulate.day_bounds(date(2026, 11, 21))[0] + 10 * HOUR
    monday_start = simulate.day_bounds(date(2026, 11, 23))[0]
    due = simulate.model.defer_to_weekday(saturday_10, simulate.model.SESSIONS, 0.0)
    assert due == monday_start + (9 * 60 + 30) * MINUTE
    friday_10 = START + 10 * HOUR
    assert simulate.model.defer_to_weekday(friday_10, simulate.model.SESSIONS, 0.5) == friday_10


def test_the_night_is_quiet_but_not_empty(day_events):
    """02:00-05:00 Shanghai: sign-ups, robot call-backs, steps of flows already started go on; no agent
    calls, no account approved, no exchange trade; far below the day."""
    night = [e for e in day_events if at("02:00") <= e.ts_ms < at("05:00")]
    morning = [e for e in day_events if at("10:00") <= e.ts_ms < at("13:00")]
    kinds = Counter((e.type, e.caller) if e.type == "call" else e.type for e in night)
    assert kinds["lead"] > 0 and kinds[("call", "robot")] > 0 and kinds["step"] > 0
    assert kinds[("call", "agent")] == 0
    assert not [e for e in night if e.type == "step" and e.step == catalogue.OPENED_STEP]
    assert not [e for e in night if e.type == "trade" and e.product in ("stock", "bond")]
    assert 0.01 < len(night) / len(morning) < 0.1
    night_leads = {e.lead_id for e in night if e.type == "lead"}
    called_at_once = {e.lead_id for e in night if e.type == "call"} & night_leads
    assert 0.15 < len(called_at_once) / len(night_leads) < 0.45  # NIGHT_ROBOT_P of them, give or take


def test_money_phones_and_provinces(day_events, noisy_day):
    money = re.compile(r"\d+\.\d{2}")
    raw = [item for _, item in noisy_day if not simulate.is_bad(item)]
    for item in raw:
        if "amount" in item:
            assert money.fullmatch(item["amount"]) and Decimal(item["amount"]) > 0
        for value in item.get("holdings", {}).values():
            assert money.fullmatch(value)
        if item["type"] == "lead":
            assert re.fullmatch(r"1[3-9]\d{9}", item["phone"])
            assert re.fullmatch(r"[\u4e00-\u9fff]{2,3}", item["province"])
        assert re.fullmatch(r"2026-11-2[01]T\d\d:\d\d:\d\d\.\d{3}\+08:00", item["ts"])
    deposits = [e for e in day_events if e.type == "deposit"]
    firsts = Counter(e.account_id for e in deposits if e.first)
    assert firsts and max(firsts.values()) == 1
    assert {e.direction for e in deposits} == {"in", "out"}
    assets = [e for e in day_events if e.type == "asset"]
    assert {e.segment for e in assets} == set(catalogue.SEGMENTS) and len({e.level for e in assets}) >= 5
    assert {e.product for e in day_events if e.type == "trade"} == set(catalogue.PRODUCTS)


def test_asset_snapshot_sums_to_the_net_deposits(day_events):
    net = Counter()
    snapshots = 0
    for event in sorted(day_events, key=lambda e: e.ts_ms):
        if event.type == "deposit":
            net[event.account_id] += event.amount_fen * (1 if event.direction == "in" else -1)
        elif event.type == "asset":
            total = sum(int(Decimal(v) * 100) for v in event.holdings.values())
            assert 0.96 * net[event.account_id] <= total <= 1.05 * net[event.account_id]
            snapshots += 1
    assert snapshots > 500


# ---- the options ----

def test_duplicates_share_event_id_and_content(noisy_day):
    copies = defaultdict(list)
    for emit, item in noisy_day:
        if not simulate.is_bad(item):
            copies[item["event_id"]].append((emit, item))
    repeated = [c for c in copies.values() if len(c) > 1]
    assert 0.02 < len(repeated) / len(copies) < 0.04
    for (first_emit, first), (again_emit, again) in (c[:2] for c in repeated):
        assert again == first and again is not first and again_emit > first_emit


def test_late_events_are_emitted_after_their_ts(checked_day):
    delays = []
    seen = set()
    for emit, _, event in checked_day:
        if event.event_id not in seen:
            seen.add(event.event_id)
            delays.append(emit - event.ts_ms)
    late = [d for d in delays if d > 0]
    assert 0.02 < len(late) / len(delays) < 0.04
    assert all(MINUTE <= d <= 30 * MINUTE for d in late)


def _step_conversion(events, channel: str, step: int, since: str, until: str) -> float:
    done = [e for e in events if e["type"] == "step" and "status" not in e]
    leads = {e["lead_id"] for e in done if e["channel"] == channel and e["step"] == step
             and simulate.iso(at(since)) <= e["ts"] < simulate.iso(at(until))}
    nxt = {e["lead_id"] for e in done if e["step"] == step + 1}
    assert len(leads) > 150
    return len(leads & nxt) / len(leads)


def test_anomaly_halves_a_step_conversion_in_one_channel_from_a_time():
    spec = f"step=8,channel=douyin,factor=0.5,from={simulate.iso(at('11:00'))}"
    events = raw_events(SimConfig(seed=21, rate=4, anomaly=spec), at("08:00"), at("15:00"))
    before = _step_conversion(events, "douyin", 8, "08:00", "11:00")
    after = _step_conversion(events, "douyin", 8, "11:00", "14:00")
    assert 0.35 < after / before < 0.65
    control = (_step_conversion(events, "app_store", 8, "11:00", "14:00")
               / _step_conversion(events, "app_store", 8, "08:00", "11:00"))
    assert 0.85 < control < 1.15


def test_surge_multiplies_the_event_rate():
    def count(**options) -> int:
        return len(list(simulate.generate(SimConfig(seed=1, rate=1, **options), at("10:00"), at("11:00"))))
    normal, surged = count(), count(surge=10)
    assert 8.5 < surged / normal < 11.5
    half = list(simulate.generate(SimConfig(seed=1, rate=1, surge=10, surge_from=simulate.iso(at("10:30"))),
                                  at("10:00"), at("11:00")))
    leads_before = sum(1 for emit, i in half if i["type"] == "lead" and emit < at("10:30"))
    leads_after = sum(1 for emit, i in half if i["type"] == "lead" and emit >= at("10:30"))
    assert leads_after > 7 * leads_before


def test_parse_anomaly():
    anomaly = simulate.parse_anomaly(" step=8, channel=douyin ,factor=0.25,from=2026-11-21T10:00:00+08:00")
    assert (anomaly.step, anomaly.channel, anomaly.factor) == (8, "douyin", 0.25)
    assert anomaly.from_ms == at("10:00", START + simulate.DAY)  # the spec says the 21st
    assert simulate.parse_anomaly("channel=wechat,step=3") == simulate.Anomaly(3, "wechat", 0.5, None)
    for spec, message in [("step=8", "required"), ("step=x,channel=douyin", "integer"),
                          ("step=11,channel=douyin", "1..10"), ("step=8,channel=tiktok", "unknown channel"),
                          ("step=8,channel=douyin,factor=2", "between 0 and 1"),
                          ("step=8,channel=douyin,when=now", "keys"),
                          ("step=8,channel=douyin,from=2026-11-21T10:00:00", "offset"),
                          ("step=8,channel=douyin,from=tomorrow", "ISO-8601")]:
        with pytest.raises(ValueError, match=message):
            simulate.parse_anomaly(spec)


def test_config_checks_its_values():
    assert SimConfig(anomaly="step=2,channel=search").anomaly == simulate.Anomaly(2, "search")
    for bad in ({"rate": 0}, {"surge": -1}, {"late": 1.5}, {"duplicates": -0.1}, {"run_id": "a b"},
                {"surge_from": "2026-11-21T10:00:00"}, {"anomaly": "step=0,channel=douyin"}):
        with pytest.raises(ValueError):
            SimConfig(**bad)


# ---- live use ----

def test_live_advance_is_incremental_and_memory_bounded():
    monday = START - 4 * simulate.DAY  # three weekdays: their journeys in flight at midnight compare
    sim = Simulator(SimConfig(seed=13, rate=.5, run_id="live1"), monday)
    in_flight_at_midnight = []
    total = 0
    for day_index in range(3):
        for hour in range(24):
            batch = sim.advance(monday + day_index * 24 * HOUR + (hour + 1) * HOUR)
            total += len(batch)
        in_flight_at_midnight.append(sim.in_flight)
    assert sim.now_ms == monday + 3 * 24 * HOUR and total > 100_000
    assert max(in_flight_at_midnight) < 1.3 * min(in_flight_at_midnight)  # journeys finish; nothing piles up
    assert sim.advance(sim.now_ms) == []


def test_ids_are_unique_and_namespaced_by_run():
    items = Simulator(SimConfig(seed=1, rate=20, run_id="r1"), at("10:00")).advance(at("10:10"))
    ids = [item["event_id"] for _, item in items]
    assert len(ids) == len(set(ids)) and all(re.fullmatch(r"[lscdat]-r1-\d{8}", i) for i in ids)
    default = Simulator(SimConfig(seed=1, rate=20), at("10:00")).advance(at("10:01"))
    restarted = Simulator(SimConfig(seed=1, rate=20), at("10:05")).advance(at("10:06"))
    assert not {i["event_id"] for _, i in default} & {i["event_id"] for _, i in restarted}


def test_to_line_keeps_chinese_and_one_line():
    event = {"event_id": "l-1", "type": "lead", "ts": simulate.iso(at("09:30")), "province": "云南"}
    assert simulate.to_line(event) == ('{"event_id":"l-1","type":"lead","ts":"2026-11-20T09:30:00.000+08:00",'
                                       '"province":"云南"}')
    assert simulate.to_line("not json") == "not json"
    with pytest.raises(InvalidEvent):
        validate(decode(simulate.to_line({**event, "ts": simulate.iso(at("09:30"))[:-6]})), phone_key="k")


# ---- the demo's history (ecc.sim.history) ----

def test_history_days_come_in_the_order_the_wall_needs(tmp_path):
    from datetime import timedelta

    from ecc.sim import history

    today = date(2026, 11, 30)
    order = history.wanted_days(today, 8)
    assert order[:2] == [today - timedelta(days=1), today - timedelta(days=7)]  # yesterday, last week
    assert sorted(order) == [today - timedelta(days=n) for n in range(8, 0, -1)]
    assert history.wanted_days(today, 3) == [today - timedelta(days=n) for n in (1, 2, 3)]


def test_history_marker_remembers_seed_and_days(tmp_path):
    from ecc.sim import history

    today = date(2026, 11, 30)
    marker = history.Marker.load(tmp_path, seed=42, rate=1.0)
    assert marker.missing(today, 2) == [date(2026, 11, 29), date(2026, 11, 28)]
    assert history.live_backfill_minutes(marker, today, 400.0) == 400.0
    marker.stored.add("2026-11-29")
    marker.live.add(today.isoformat())
    marker.save()
    again = history.Marker.load(tmp_path, seed=7, rate=2.0)  # a restart: the first seed stays
    assert (again.seed, again.rate) == (42, 2.0)
    assert again.missing(today, 2) == [date(2026, 11, 28)]
    assert history.live_backfill_minutes(again, today, 400.0) == 0.0  # today is not backfilled twice
    (tmp_path / history.MARKER).write_text("{not json")
    assert history.Marker.load(tmp_path, seed=9, rate=1.0).seed == 9


def test_a_history_day_is_the_same_every_time_and_days_differ():
    from ecc.sim import history

    first = [item["event_id"] for item in history.day_items(5, date(2026, 11, 19), 0.05)]
    again = [item["event_id"] for item in history.day_items(5, date(2026, 11, 19), 0.05)]
    other = [item["event_id"] for item in history.day_items(5, date(2026, 11, 18), 0.05)]
    assert first == again and len(first) > 1000
    assert not set(first) & set(other)
    start, end = simulate.day_bounds(date(2026, 11, 19))
    assert all(start <= simulate.timeutil.parse_instant(item["ts"], "ts").timestamp() * 1000 < end
               for item in history.day_items(5, date(2026, 11, 19), 0.05))


def test_demo_loads_history_by_default_only_at_a_rate_that_loads_quickly():
    from ecc.cli import DEMO_RATE, build_parser, demo_history_days

    args = build_parser().parse_args(["demo"])
    assert args.rate == DEMO_RATE and demo_history_days(args.rate, args.history_days) == 8
    assert demo_history_days(100.0, None) == 0  # 69M events: only when asked for
    assert demo_history_days(100.0, 2) == 2 and demo_history_days(1.0, 0) == 0
