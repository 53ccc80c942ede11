"""The default alert rules over simulated traffic in real chDB and a real metadata DB (docs/alerts.md).

One simulated morning at the simulator's default rate (200 events/s on average, ~440/s at 10:00): from
10:00 the conversion of douyin's step 8 (video witness -> step 9) drops by 30% (factor 0.7) and recovers
at 10:20; at 10:45 the events stop. The evaluator replays it in event time (ecc.alerts.replay). The
events go straight into ClickHouse (the alert queries are the point here; tests/test_e2e.py covers the
door and the stream).
"""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from ecc import metadata, timeutil
from ecc.alerts import replay, store
from ecc.alerts.evaluator import Evaluator
from ecc.olap import clickhouse
from ecc.sim import simulate

ONSET = datetime(2026, 11, 23, 10, 0, tzinfo=timeutil.TZ)  # a Monday
RECOVERY = ONSET + timedelta(minutes=20)
STOP = ONSET + timedelta(minutes=45)
SILENCE_ENDS = ONSET + timedelta(minutes=12)


@pytest.fixture(scope="module")
def morning(chdb_client, tmp_path_factory):
    clickhouse.truncate_all(chdb_client)
    anomaly = simulate.Anomaly(step=8, channel="douyin", factor=0.7, from_ms=int(ONSET.timestamp() * 1000))
    config = simulate.SimConfig(seed=23, rate=200, anomaly=anomaly)
    replay.load(chdb_client, config, ONSET - timedelta(minutes=60), STOP + timedelta(minutes=5),
                until=STOP, recover_at=RECOVERY)
    engine = metadata.connect(f"sqlite:///{tmp_path_factory.mktemp('alerts') / 'meta.sqlite3'}")
    metadata.migrate(engine)
    store.ensure_defaults(engine)
    # an operator silenced douyin's step 8 until 10:12 (event time of the replay)
    store.create_silence(engine, {"matchers": {"channel": "douyin", "step": 8},
                                  "ends_at": SILENCE_ENDS.isoformat(), "comment": "video vendor upgrade"},
                         "tester", now_ms=int((ONSET - timedelta(minutes=10)).timestamp() * 1000))
    evaluator = Evaluator(engine, chdb_client, notify=lambda group, transition: None)
    before = replay.replay(evaluator, ONSET - timedelta(minutes=8), STOP, timedelta(seconds=60))
    after = replay.replay(evaluator, STOP, STOP + timedelta(minutes=6), timedelta(seconds=30))
    yield engine, before, after
    clickhouse.truncate_all(chdb_client)


def test_a_30_percent_drop_fires_one_alert_and_resolves_after_recovery(morning):
    engine, run, _ = morning
    alerts = store.list_alerts(engine, day=ONSET.date())
    conversion = [a for a in alerts if a["kind"] == "step_conversion_drop"]
    assert [(a["channel"], a["step"]) for a in conversion] == [("douyin", 8)], alerts
    alert = conversion[0]
    fired = timeutil.parse_instant(alert["fired_at"], "fired_at")
    # Detection delay in event time. The issue asks for 5 minutes; at this volume (~2.9 douyin leads/s
    # reach step 8 at 10:00, 5 min median to step 9) the evidence for a 30% drop is z ~ 4 at 5 min, at
    # the edge of what alpha 1e-5 over ~80 series allows (docs/alerts.md "The 5-minute target"): the
    # scan over short windows fires at 6-7 min judged every 10 s (bench/alerts.py). Judged once a minute
    # here (the 30 s pending period then takes a whole minute), this replay (seed 23) fires at 10:08.
    assert ONSET < fired <= ONSET + timedelta(minutes=9), alert
    # the evidence sent with the firing notice (the stored alert keeps the latest, after recovery)
    notice = next(a for _, t, a in run.events if t == "firing")
    assert notice["observed"] < notice["baseline"] and notice["sample"] >= 150 and notice["p_value"] < 1e-5
    assert alert["state"] == "resolved"
    resolved = timeutil.parse_instant(alert["resolved_at"], "resolved_at")
    assert RECOVERY < resolved < STOP
    assert "channel=douyin" in alert["link"] and "step=8" in alert["link"]
    # Nothing else in the whole morning: other channels (the low-volume, noisy branch_referral among
    # them), other steps, the volume, reject and dial-rate rules.
    others = [e for e in run.events if (e[2]["channel"], e[2]["step"]) != ("douyin", 8)]
    assert others == []


def test_silence_suppresses_the_notice_until_it_expires(morning):
    _, run, _ = morning
    notices = [(at, t) for at, t, a in run.events if (a["channel"], a["step"]) == ("douyin", 8)]
    # fired while silenced (no notice), announced at the first evaluation after the silence ended,
    # then resolved once
    assert [t for _, t in notices] == ["firing", "resolved"], notices
    assert notices[0][0] >= SILENCE_ENDS
    engine = morning[0]
    alert = next(a for a in store.list_alerts(engine, day=ONSET.date())
                 if a["kind"] == "step_conversion_drop")
    # it did fire under the silence
    assert timeutil.parse_instant(alert["fired_at"], "fired_at") < SILENCE_ENDS
    announced = next(a for _, t, a in run.events if t == "firing")
    assert announced["silenced"] is False  # the notice went out after the silence


def test_stopped_events_fire_no_data_and_hold_conversion_alerts(morning):
    engine, _, after = morning
    no_data = [a for _, t, a in after.events if t == "firing" and a["kind"] == "no_data"]
    assert no_data, after.events
    first = min(at for at, t, a in after.events if t == "firing" and a["kind"] == "no_data")
    assert STOP + timedelta(seconds=120) <= first <= STOP + timedelta(minutes=3)
    assert not [a for _, t, a in after.events if a["kind"] != "no_data"]
    firing = store.list_alerts(engine, ["firing"], day=ONSET.date())
    assert {a["kind"] for a in firing} == {"no_data"}
