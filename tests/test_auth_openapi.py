"""Access in the OpenAPI document: the three ways to authenticate, and on every operation the role the
access table (ecc/auth/policy.py) gives it, with 401/403 answers; served over HTTP to a logged-in user."""

from __future__ import annotations

import pytest

from ecc import metadata
from ecc.auth import auth_openapi, policy, users
from ecc.auth.roles import PUBLIC
from ecc.live.live_store import LiveStore
from ecc.services import Services
from ecc.web.openapi import document
from layouts.server import compose

METHODS = ("get", "put", "post", "delete", "patch")


def _operations(doc):
    for path, item in doc["paths"].items():
        for method, op in item.items():
            if method in METHODS:
                yield path, method, op


def test_security_schemes_and_every_operation_secured_by_the_access_table():
    doc = document()
    schemes = doc["components"]["securitySchemes"]
    assert schemes["bearer"] == {**schemes["bearer"], "type": "http", "scheme": "bearer"}
    assert (schemes["session"]["in"], schemes["session"]["name"]) == ("cookie", "ecc_session")
    assert (schemes["kiosk"]["in"], schemes["kiosk"]["name"]) == ("cookie", "ecc_kiosk")
    assert doc["security"] == [{"bearer": []}, {"session": []}, {"kiosk": []}]
    seen = {}
    for path, method, op in _operations(doc):
        rule = policy.route_rule(method.upper(), path.replace("{id}", "<>"))
        assert rule is not None, f"{method} {path} is documented but not in the access table"
        assert op["x-ecc-role"] == rule.level
        seen[(method, path)] = rule.level
        if rule.level == PUBLIC:
            assert op["security"] == [] and "401" not in op["responses"]
        else:
            assert "security" not in op  # the document's: any of the three
            assert {"401", "403"} <= set(op["responses"]) and f"Needs role {rule.level}" in op["description"]
    assert seen[("get", "/api/v1/health")] == PUBLIC and seen[("get", "/metrics")] == PUBLIC
    assert seen[("get", "/api/v1/audit")] == "admin" and seen[("get", "/api/v1/me")] == "viewer"
    assert seen[("get", "/api/v1/funnel/dropped")] == "operator"
    ingest = doc["paths"]["/api/v1/events"]["post"]
    assert "429" in ingest["responses"] and "events:write" in ingest["description"]


def test_an_operation_missing_from_the_table_is_documented_as_admin_only():
    assert auth_openapi.level_of("get", "/api/v1/not-in-the-table/{id}") == "admin"


@pytest.fixture
def app(settings, tmp_path, redis_client, ch):
    engine = metadata.connect(f"sqlite:///{tmp_path / 'meta' / 'ecc.sqlite3'}")
    metadata.migrate(engine)
    users.add(engine, "vera", "viewer", "correct horse battery")
    settings = settings.with_(auth="on")
    return compose(settings, Services(settings=settings, live=LiveStore(redis_client), ch=ch, meta=engine))


def test_served_to_a_logged_in_user_and_401_without(app):
    client = app.server.test_client()
    assert client.get("/api/v1/openapi.json").status_code == 401
    client.post("/login", data={"username": "vera", "password": "correct horse battery"},
                headers={"Origin": "http://localhost"})
    doc = client.get("/api/v1/openapi.json").get_json()
    assert "/api/v1/audit" in doc["paths"] and "/api/v1/me" in doc["paths"]
    assert set(doc["components"]["securitySchemes"]) == {"bearer", "session", "kiosk"}
    assert client.get("/api/v1/audit").status_code == 403  # as documented: a viewer may not
