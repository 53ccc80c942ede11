"""The evaluator's guarantees on real stores: one holder of the Redis lease, a failing rule never stops the
others, a firing no_data alert holds the rules of its source, one group per transition."""

from __future__ import annotations

import time
from datetime import datetime, timedelta

import pytest
from sqlalchemy.orm import Session

from ecc import metadata, timeutil
from ecc.alerts import store
from ecc.alerts.data import AlertData
from ecc.alerts.evaluator import Evaluator, active_key
from ecc.alerts.lease import Lease
from ecc.alerts.models import Alert, AlertRule
from ecc.contract.events import Event
from ecc.olap import clickhouse

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=timeutil.TZ)
NOW_MS = int(NOW.timestamp() * 1000)
HOUR_AGO = NOW - timedelta(hours=1)  # an evaluator that has been watching for an hour


@pytest.fixture
def engine(tmp_path):
    eng = metadata.connect(f"sqlite:///{tmp_path / 'meta.sqlite3'}")
    metadata.migrate(eng)
    return eng


def test_exactly_one_process_holds_the_lease(redis_client):
    a, b = Lease(redis_client, ttl_ms=300), Lease(redis_client, ttl_ms=300)
    assert a.hold() and not b.hold()
    assert a.hold()  # renewed
    a.release()
    assert b.hold() and not a.hold()
    time.sleep(0.5)  # b stalls past its lease: a takes over, and b cannot extend a's lease
    assert a.hold() and not b.hold()


def _leads(ch, last_ms: int) -> None:
    clickhouse.insert_events(ch, [Event(event_id=f"l{i}", type="lead", ts_ms=last_ms - i * 1000,
                                        channel="douyin", lead_id=f"L{i}") for i in range(20)])


def test_a_failing_rule_never_stops_the_others(ch, engine):
    _leads(ch, NOW_MS - 10 * 60_000)  # the newest event is 10 minutes old
    with Session(engine) as session, session.begin():  # judged first: its stored params lack a source
        session.add(AlertRule(kind="no_data", channel=None, step=None, enabled=True,
                              params={"baseline": "trailing", "mute": []}, created_ms=0, updated_ms=0))
    ok = store.create_rule(engine, {"kind": "no_data", "params": {"source": "lead", "max_age_s": 120,
                                                                  "mute": []}})
    groups = []
    evaluator = Evaluator(engine, ch, notify=lambda g, t: groups.append((t, g)), watching_since=HOUR_AGO)
    outcome = evaluator.evaluate(NOW)
    assert len(outcome.failed) == 1
    assert [(t, [a["rule_id"] for a in g]) for t, g in groups] == [("firing", [ok["id"]])]
    assert store.list_alerts(engine, ["firing"], day=NOW.date())[0]["observed"] == 600.0


def test_no_data_holds_the_rules_of_its_source(ch, engine):
    _leads(ch, NOW_MS - 10 * 60_000)
    store.create_rule(engine, {"kind": "no_data", "params": {"source": "all", "max_age_s": 120, "mute": []}})
    conversion = store.create_rule(engine, {"kind": "step_conversion_drop", "channel": "douyin", "step": 8,
                                            "params": {"mute": []}})
    key = active_key(conversion["id"], "douyin", 8)
    with Session(engine) as session, session.begin():  # a conversion alert pending before the outage
        session.add(Alert(rule_id=conversion["id"], kind="step_conversion_drop", channel="douyin", step=8,
                          state="pending", active_key=key, started_ms=NOW_MS - 3_600_000, window_ms=600_000,
                          silenced=False))
    outcome = Evaluator(engine, ch, notify=lambda g, t: None, watching_since=HOUR_AGO).evaluate(NOW)
    assert "all" in outcome.inhibited_sources
    states = {(a["kind"], a["state"]) for a in store.list_alerts(engine, day=NOW.date())}
    assert states == {("no_data", "firing"), ("step_conversion_drop", "pending")}  # held, not promoted
    # once the no_data rule is gone, the conversion rule is judged again: no data, so the pending drops
    for rule in store.list_rules(engine):
        if rule["kind"] == "no_data":
            store.delete_rule(engine, rule["id"])
    Evaluator(engine, ch, notify=lambda g, t: None).evaluate(NOW + timedelta(seconds=10))
    assert [a for a in store.list_alerts(engine, day=NOW.date()) if a["kind"] == "step_conversion_drop"] == []


def test_alerts_that_fire_together_are_one_group(ch, engine):
    _leads(ch, NOW_MS - 10 * 60_000)
    for source in ("all", "lead"):
        store.create_rule(engine, {"kind": "no_data",
                                   "params": {"source": source, "max_age_s": 60, "mute": []}})
    groups = []
    Evaluator(engine, ch, notify=lambda g, t: groups.append((t, g)), watching_since=HOUR_AGO).evaluate(NOW)
    assert [(t, len(g)) for t, g in groups] == [("firing", 2)]


def test_silence_counts_from_when_the_evaluator_began_to_watch(ch, engine):
    """A fresh process (a new demo whose today has not reached ClickHouse yet, or one that took over the
    lease) does not call the time before it a silence: no_data fires after max_age_s of silence it saw."""
    _leads(ch, NOW_MS - 10 * 60_000)  # the newest event is 10 minutes old
    store.create_rule(engine, {"kind": "no_data", "params": {"source": "all", "max_age_s": 120, "mute": []}})
    groups = []
    evaluator = Evaluator(engine, ch, notify=lambda g, t: groups.append((t, g)))
    evaluator.evaluate(NOW)
    evaluator.evaluate(NOW + timedelta(seconds=120))
    assert groups == []
    evaluator.evaluate(NOW + timedelta(seconds=121))
    assert [(t, [a["kind"] for a in g]) for t, g in groups] == [("firing", ["no_data"])]


def test_step_counts_by_age_give_every_window_ending_now(ch):
    """queries/alerts_steps.sql against a hand count: ages in whole minutes before `end`, a window
    [end - w min, end) is ages 0..w-1 (an event at exactly end - w belongs to it), a redelivered row counts
    once, rejects are distinct events, and nothing at or after `end` or before the range is read."""
    def step(event_id, lead, number, ms_before, status="done"):
        return Event(event_id=event_id, type="step", ts_ms=NOW_MS - ms_before, channel="douyin",
                     lead_id=lead, step=number, status=status)
    events = [
        step("a3", "A", 3, 30_000), step("a4", "A", 4, 10_000),
        step("b3", "B", 3, 240_000), step("b3", "B", 3, 240_000), step("b4", "B", 4, 60_000),
        step("c3", "C", 3, 240_001),
        step("d8r1", "D", 8, 120_000, "rejected"), step("d8r1", "D", 8, 120_000, "rejected"),
        step("d8r2", "D", 8, 90_000, "rejected"), step("d8", "D", 8, 60_000),
        step("e3", "E", 3, 0), step("f3", "F", 3, 600_001),  # at `end`, and before the range
    ]
    clickhouse.insert_events(ch, events)
    ages = AlertData(ch).step_ages(NOW, 10)
    assert ages == {("douyin", 3, 0): (1, 1, 0), ("douyin", 4, 0): (2, 0, 0), ("douyin", 3, 3): (1, 1, 0),
                    ("douyin", 3, 4): (1, 0, 0), ("douyin", 8, 0): (1, 0, 0), ("douyin", 8, 1): (0, 0, 2)}


def test_volume_baselines_use_only_days_with_data(ch, engine):
    """In an installation's second day, "the same time on the last 7 days" is one day: six empty days
    before the first stored event would make a normal morning look like a 7x spike."""
    def leads(prefix: str, end_ms: int, count: int) -> list[Event]:
        return [Event(event_id=f"{prefix}{i}", type="lead", ts_ms=end_ms - 1 - i * 2_000, channel="douyin",
                      lead_id=f"{prefix}L{i}") for i in range(count)]
    day_ms = 86_400_000
    clickhouse.insert_events(ch, leads("y", NOW_MS - day_ms, 400) + leads("t", NOW_MS, 400))
    store.create_rule(engine, {"kind": "lead_volume_spike", "channel": "douyin", "params": {"mute": []}})
    Evaluator(engine, ch, notify=lambda g, t: None).evaluate(NOW)
    # (counting the six empty days, 400 leads against 400 / 7 expected was a pending spike)
    assert store.list_alerts(engine, day=NOW.date()) == []
