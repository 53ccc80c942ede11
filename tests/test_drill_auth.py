"""The drill-down with auth ON (ecc/auth): the whole app as production composes it (layouts.server.compose,
real SQLite metadata, real Valkey sessions, real chDB), driven through Dash's own callback endpoint as the
browser drives it. The pages read /api/v1 in process with the caller's own credentials
(layouts/drill_api.py), so: a viewer sees the drill numbers (the API's, for the same filter); a viewer is
told the call-back list needs the operator role; an operator gets it, by session cookie or bearer token;
and each read of the list (the page's JSON, the CSV) is in the audit trail as an export."""

from __future__ import annotations

from datetime import timedelta

import pytest
from oracle import journeys
from scenarios import DAY

from ecc import metadata
from ecc.auth import audit, tokens, users
from ecc.contract.validate import validate
from ecc.live.live_store import LiveStore
from ecc.services import Services
from ecc.sink import SinkStats, store_batch
from layouts.server import compose

PASSWORD = "correct horse battery"
ORIGIN = {"Origin": "http://localhost"}
T0 = DAY + timedelta(hours=9)
PERIOD = [("from", DAY.isoformat()), ("to", (DAY + timedelta(days=1)).isoformat())]
SEARCH = "?" + "&".join(f"{k}={v}" for k, v in PERIOD).replace("+", "%2B") + "&lang=en"


@pytest.fixture
def app(settings, redis_client, ch):
    engine = metadata.connect(f"sqlite:///{settings.data_dir}/meta.sqlite3")
    metadata.migrate(engine)
    settings = settings.with_(auth="on")
    raws = journeys({"L1": [(s, T0 + timedelta(minutes=s)) for s in range(1, 12)],
                     "L2": [(1, T0), (2, T0 + timedelta(minutes=1))],
                     "L3": [(1, T0 + timedelta(minutes=5)), (2, T0 + timedelta(minutes=7))]},
                    channel="douyin", province="云南")
    raws = [{**e, "phone": "13812341234"} if e["type"] == "lead" else e for e in raws]
    now_ms = int((DAY + timedelta(days=1)).timestamp() * 1000)
    store_batch(ch, [validate(e, phone_key="k", now_ms=now_ms) for e in raws], [], SinkStats())
    services = Services(settings=settings, live=LiveStore(redis_client), ch=ch, meta=engine)
    dash_app = compose(settings, services)
    dash_app.engine = engine
    return dash_app


def logged_in(app, name: str, role: str):
    users.add(app.engine, name, role, PASSWORD)
    client = app.server.test_client()
    resp = client.post("/login", data={"username": name, "password": PASSWORD, "next": "/"}, headers=ORIGIN)
    assert resp.status_code == 303
    return client


def drill_view(client, view: str, search: str, headers: dict | None = None) -> tuple[int, dict]:
    """POST the drill-down's fill callback as the browser does; (status, props by component id)."""
    call = {
        "output": "..drill-body.children...drill-asof.children...drill-loading-mark.data..",
        "outputs": [{"id": "drill-body", "property": "children"},
                    {"id": "drill-asof", "property": "children"},
                    {"id": "drill-loading-mark", "property": "data"}],
        "inputs": [{"id": "drill-state", "property": "data", "value": {"view": view, "search": search,
                                                                       "base": "/"}},
                   {"id": "drill-refresh", "property": "n_clicks", "value": None}],
        "changedPropIds": ["drill-state.data"], "state": [],
    }
    resp = client.post("/_dash-update-component", json=call, headers={**ORIGIN, **(headers or {})})
    props: dict[str, dict] = {}

    def walk(node):
        if isinstance(node, dict):
            if "props" in node and isinstance(node["props"], dict):
                if node["props"].get("id"):
                    props[str(node["props"]["id"])] = node["props"]
                props.setdefault("_texts", {}).setdefault("all", []).append(
                    node["props"].get("children") if isinstance(node["props"].get("children"), str) else "")
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)
    if resp.status_code == 200:
        walk(resp.get_json())
    return resp.status_code, props


def texts(props: dict) -> list[str]:
    return props.get("_texts", {}).get("all", [])


def test_a_viewer_sees_the_drill_numbers_but_not_the_call_back_list(app):
    viewer = logged_in(app, "vera", "viewer")
    status, props = drill_view(viewer, "overview", SEARCH + "&channel=douyin")
    assert status == 200
    api = viewer.get("/api/v1/kpis", query_string=[*PERIOD, ("channel", "douyin")]).get_json()
    assert api["leads"] == 3
    assert props["drill-kpi-leads"]["data-value"] == str(api["leads"])
    assert props["drill-kpi-opened"]["data-value"] == str(api["opened"]) == "1"
    status, cohort = drill_view(viewer, "cohort", SEARCH)
    assert status == 200 and cohort["drill-cohort-1"]["data-value"] == "3"
    assert cohort["drill-ttc-bucket-2"]["data-value"] == "1"  # L1 took 10 minutes: the [10, 20 min) bucket
    status, listing = drill_view(viewer, "callback", SEARCH + "&step=2&idle_hours=0")
    assert status == 200
    assert "The call-back list needs the operator role." in texts(listing)
    assert "drill-callback-count" not in listing
    assert viewer.get("/api/v1/funnel/dropped", query_string=[*PERIOD, ("step", "2")]).status_code == 403
    assert audit.entries(app.engine, action="export", actor="vera") == []


def test_an_operator_gets_the_call_back_list_and_each_export_is_audited(app):
    operator = logged_in(app, "otto", "operator")
    status, listing = drill_view(operator, "callback", SEARCH + "&step=2&idle_hours=0")
    assert status == 200 and listing["drill-callback-count"]["data-value"] == "2"  # L2 and L3
    table = listing["drill-callback-table"]["data"]
    assert {row["lead_id"] for row in table} == {"L2", "L3"}
    assert {row["phone_masked"] for row in table} == {"138****1234"}
    assert "13812341234" not in str(listing)
    page_read = audit.entries(app.engine, action="export", actor="otto")
    assert len(page_read) == 1 and page_read[0].path == "/api/v1/funnel/dropped"
    assert '"format": "json"' in page_read[0].summary and '"step": "2"' in page_read[0].summary

    csv_url = listing["drill-callback-csv"]["data-csv-url"]  # what the page's CSV button asks for
    resp = operator.get(csv_url, headers={"Accept": "text/csv"})
    assert resp.status_code == 200 and resp.mimetype == "text/csv"
    assert "138****1234" in resp.get_data(as_text=True) and "13812341234" not in resp.get_data(as_text=True)
    exports = audit.entries(app.engine, action="export", actor="otto")
    assert len(exports) == 2 and '"format": "csv"' in exports[0].summary and exports[0].status == 200


def test_bearer_tokens_carry_their_role_into_the_drill_down(app):
    _, viewer_token = tokens.create(app.engine, "bearer", "bi viewer", "test", role="viewer")
    operator_record, operator_token = tokens.create(app.engine, "bearer", "call centre", "test",
                                                    role="operator")
    client = app.server.test_client()
    status, listing = drill_view(client, "callback", SEARCH + "&step=2&idle_hours=0",
                                 {"Authorization": f"Bearer {viewer_token}"})
    assert status == 200 and "The call-back list needs the operator role." in texts(listing)
    status, listing = drill_view(client, "callback", SEARCH + "&step=2&idle_hours=0",
                                 {"Authorization": f"Bearer {operator_token}"})
    assert status == 200 and listing["drill-callback-count"]["data-value"] == "2"
    exports = audit.entries(app.engine, action="export", actor=f"token:{operator_record.id}")
    assert [e.path for e in exports] == ["/api/v1/funnel/dropped"]
    status, _ = drill_view(client, "overview", SEARCH)  # no credentials at all
    assert status == 401
