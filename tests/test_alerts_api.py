"""/api/v1/alert-rules, /alerts, /alerts/{id}/ack, /silences over a real metadata DB (SQLite, and
PostgreSQL where ECC_TEST_POSTGRES_URL is set), and the defaults of first start."""

from __future__ import annotations

import os
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from flask import Flask, g
from sqlalchemy import text

from ecc import metadata, timeutil
from ecc.alerts import store
from ecc.alerts.api import create_alerts_api
from ecc.alerts.models import Alert

BACKENDS = ["sqlite"] + (["postgres"] if os.environ.get("ECC_TEST_POSTGRES_URL") else [])


@pytest.fixture(params=BACKENDS)
def engine(request, tmp_path):
    if request.param == "sqlite":
        eng = metadata.connect(f"sqlite:///{tmp_path / 'meta.sqlite3'}")
        metadata.migrate(eng)
        yield eng
        return
    base = metadata.connect(os.environ["ECC_TEST_POSTGRES_URL"])
    schema = f"t_{uuid.uuid4().hex[:10]}"
    with base.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    eng = base.execution_options(schema_translate_map={None: schema})
    metadata.migrate(eng)
    yield eng
    with base.begin() as conn:
        conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))


@pytest.fixture
def client(engine):
    app = Flask(__name__)
    app.register_blueprint(create_alerts_api(engine))
    return app.test_client()


def test_defaults_once_and_admin_edits_survive_restarts(engine):
    assert store.ensure_defaults(engine) == 8
    rules = store.list_rules(engine)
    assert {r["kind"] for r in rules} == {"step_conversion_drop", "lead_volume_drop", "lead_volume_spike",
                                          "dial_rate_low", "reject_rate_spike", "no_data"}
    assert all("baseline" in r["params"] and "mute" in r["params"] for r in rules)
    dial = next(r for r in rules if r["kind"] == "dial_rate_low")
    assert dial["params"]["target"] == 0.98
    store.update_rule(engine, dial["id"], {"params": {"target": 0.95}})
    store.delete_rule(engine, rules[0]["id"])
    metadata.migrate(engine)  # a restart
    assert store.ensure_defaults(engine) == 0
    after = store.list_rules(engine)
    assert len(after) == 7 and next(r for r in after if r["id"] == dial["id"])["params"]["target"] == 0.95


def test_rules_crud_with_partial_params_and_json_errors(client, engine):
    created = client.post("/api/v1/alert-rules", json={"kind": "step_conversion_drop", "channel": "douyin",
                                                        "step": 8, "params": {"min_drop": 0.3}})
    assert created.status_code == 201
    rule = created.get_json()
    assert rule["params"]["min_drop"] == 0.3 and rule["params"]["baseline"] == "trailing"
    put = client.put(f"/api/v1/alert-rules/{rule['id']}", json={"params": {"mute": []}})
    assert put.status_code == 200
    assert put.get_json()["params"]["mute"] == [] and put.get_json()["params"]["min_drop"] == 0.3
    disabled = client.put(f"/api/v1/alert-rules/{rule['id']}", json={"enabled": False})
    assert disabled.get_json()["enabled"] is False
    for body in ({"kind": "nope"}, {"kind": "no_data", "params": {"baseline": "x"}},
                 {"kind": "step_conversion_drop", "step": 11},
                 {"kind": "dial_rate_low", "params": {"target": 2}},
                 {"kind": "no_data", "params": {"mute": [{"days": "mon", "from": "9am"}]}}):
        answer = client.post("/api/v1/alert-rules", json=body)
        assert answer.status_code == 400 and set(answer.get_json()) == {"error", "detail"}, body
    assert client.post("/api/v1/alert-rules", data="x", content_type="text/plain").status_code == 400
    assert client.put("/api/v1/alert-rules/99999", json={}).status_code == 404
    assert client.delete(f"/api/v1/alert-rules/{rule['id']}").status_code == 204
    assert client.delete(f"/api/v1/alert-rules/{rule['id']}").status_code == 404
    assert all(r["id"] != rule["id"] for r in client.get("/api/v1/alert-rules").get_json())


def _alert(engine, state: str, started: datetime, **fields) -> int:
    from sqlalchemy.orm import Session
    with Session(engine) as session, session.begin():
        row = Alert(rule_id=1, kind="step_conversion_drop", channel="douyin", step=8, state=state,
                    active_key=None if state == "resolved" else f"1:douyin:8:{started.timestamp()}",
                    started_ms=int(started.timestamp() * 1000), window_ms=600_000, silenced=False,
                    observed=0.6, baseline=0.9, sample=800, p_value=1e-7, **fields)
        session.add(row)
        session.flush()
        return row.id


def test_alerts_list_by_state_today_and_ack_by_the_logged_in_user(engine):
    now = datetime.now(UTC)
    firing = _alert(engine, "firing", now - timedelta(minutes=5))
    three_days = now - timedelta(days=3)
    _alert(engine, "resolved", three_days, resolved_ms=int(three_days.timestamp() * 1000))
    old_firing = _alert(engine, "firing", now - timedelta(days=2))
    app = Flask(__name__)
    app.register_blueprint(create_alerts_api(engine))

    class Identity:
        name = "王值班"

    @app.before_request
    def login():
        g.identity = Identity()
    client = app.test_client()
    everything = client.get("/api/v1/alerts").get_json()
    assert {a["id"] for a in everything} == {firing, old_firing}  # open ones, and all of today's
    one = next(a for a in everything if a["id"] == firing)
    assert set(one) >= {"id", "rule_id", "kind", "channel", "step", "state", "started_at", "resolved_at",
                        "observed", "baseline", "sample", "p_value", "acked_by", "silenced", "link"}
    assert one["link"].startswith("/drill?channel=douyin&step=8&from=")
    assert client.get("/api/v1/alerts?state=resolved").get_json() == []
    assert client.get("/api/v1/alerts?state=bogus").status_code == 400
    acked = client.post(f"/api/v1/alerts/{firing}/ack", json={"comment": "看过了"})
    assert acked.status_code == 200 and acked.get_json()["acked_by"] == "王值班"
    assert client.post("/api/v1/alerts/99999/ack").status_code == 404
    # without the access layer the user is "local"
    assert create_client(engine).post(f"/api/v1/alerts/{old_firing}/ack").get_json()["acked_by"] == "local"


def create_client(engine):
    app = Flask(__name__)
    app.register_blueprint(create_alerts_api(engine))
    return app.test_client()


def test_disabling_or_deleting_a_rule_closes_its_open_alerts_quietly(engine):
    rule = store.create_rule(engine, {"kind": "no_data"})
    from sqlalchemy.orm import Session
    with Session(engine) as session, session.begin():
        session.add(Alert(rule_id=rule["id"], kind="no_data", state="firing", active_key=f"{rule['id']}:*:*",
                          started_ms=timeutil.now_ms(), window_ms=0, silenced=False))
    assert [a["state"] for a in store.list_alerts(engine)] == ["firing"]
    store.update_rule(engine, rule["id"], {"enabled": False})
    assert [a["state"] for a in store.list_alerts(engine)] == ["resolved"]


def test_silences_create_list_expire_delete(client, engine):
    ends = (datetime.now(UTC) + timedelta(hours=1)).astimezone(timeutil.TZ).isoformat()
    created = client.post("/api/v1/silences", json={"matchers": {"channel": "douyin", "step": 8},
                                                    "ends_at": ends, "comment": "planned maintenance"})
    assert created.status_code == 201
    silence = created.get_json()
    assert silence["matchers"] == {"channel": "douyin", "step": 8} and silence["active"]
    assert [s["id"] for s in client.get("/api/v1/silences").get_json()] == [silence["id"]]
    now_ms = timeutil.now_ms()
    active = store.active_silences(engine, now_ms)
    assert store.is_silenced(active, "step_conversion_drop", "douyin", 8)
    assert not store.is_silenced(active, "step_conversion_drop", "wechat", 8)
    assert store.active_silences(engine, now_ms + 2 * 3_600_000) == []  # expired: no longer applies
    for body in ({"matchers": {"channel": "douyin"}}, {"matchers": {"kind": "x"}, "ends_at": ends},
                 {"matchers": {}, "ends_at": "2020-01-01T00:00:00+08:00"},
                 {"matchers": {"region": "x"}, "ends_at": ends}, {"ends_at": "tomorrow"}):
        answer = client.post("/api/v1/silences", json=body)
        assert answer.status_code == 400 and "error" in answer.get_json(), body
    assert client.delete(f"/api/v1/silences/{silence['id']}").status_code == 204
    assert client.get("/api/v1/silences").get_json() == []
    assert client.delete(f"/api/v1/silences/{silence['id']}").status_code == 404


def test_one_open_alert_per_rule_channel_step_is_enforced_by_the_database(engine):
    from sqlalchemy.exc import IntegrityError
    from sqlalchemy.orm import Session
    now = datetime.now(UTC)
    with pytest.raises(IntegrityError), Session(engine) as session, session.begin():
        for _ in range(2):
            session.add(Alert(rule_id=1, kind="no_data", state="firing", active_key="1:*:*",
                              started_ms=int(now.timestamp() * 1000), window_ms=0, silenced=False))
            session.flush()
