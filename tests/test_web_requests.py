"""ecc/web/requests.py: the one client error of the JSON APIs, its parsers and its handler, in a real Flask
app (the three API blueprints' own tests check their answers end to end)."""

from __future__ import annotations

import pytest
from flask import Blueprint, Flask, jsonify

from ecc.web.requests import ApiError, bool_arg, install, int_arg, json_object, number_arg


class DomainError(ValueError):  # like rules.RuleError: a message and a detail, no status
    def __init__(self, message, detail=None):
        super().__init__(message)
        self.detail = detail


@pytest.fixture(scope="module")
def client():
    bp = Blueprint("t", __name__)
    install(bp, DomainError)

    @bp.errorhandler(Exception)  # a catch-all like ecc/web/api.py's must not swallow the 4xx
    def crash(exc):
        return jsonify({"error": "internal"}), 500

    @bp.get("/int")
    def get_int():
        return jsonify(int_arg("n", 7, 1, 10))

    @bp.get("/number")
    def get_number():
        return jsonify(number_arg("x", 0.5, 0.0, 1.0))

    @bp.get("/flag")
    def get_flag():
        return jsonify(bool_arg("on"))

    @bp.post("/body")
    def post_body():
        return jsonify(json_object())

    @bp.post("/maybe-body")
    def post_maybe_body():
        return jsonify(json_object("body must be a JSON object (or empty)", empty_ok=True))

    @bp.get("/domain")
    def domain():
        raise DomainError("bad field", {"field": "x"})

    @bp.get("/large")
    def large():
        raise ApiError("too big", status=413)

    @bp.get("/boom")
    def boom():
        raise RuntimeError("boom")

    app = Flask(__name__)
    app.register_blueprint(bp)
    return app.test_client()


def test_integers(client):
    assert client.get("/int").json == 7
    assert client.get("/int?n=10").json == 10
    bad = client.get("/int?n=ten")
    assert bad.status_code == 400 and bad.json == {"error": "n must be an integer, got 'ten'", "detail": None}
    assert client.get("/int?n=11").json["error"] == "n must be between 1 and 10, got 11"


def test_numbers_refuse_nan(client):
    assert client.get("/number?x=0.25").json == 0.25
    assert client.get("/number?x=nan").json["error"] == "x must be between 0 and 1, got nan"
    assert client.get("/number?x=a").status_code == 400


@pytest.mark.parametrize(("raw", "value"), [("1", True), ("TRUE", True), ("yes", True), ("on", True),
                                            ("0", False), ("false", False), ("No", False), ("", False)])
def test_flags(client, raw, value):
    assert client.get(f"/flag?on={raw}").json is value


def test_a_flag_that_is_neither_is_refused(client):
    assert client.get("/flag").json is False
    bad = client.get("/flag?on=maybe")
    assert bad.status_code == 400 and bad.json["error"].startswith("on must be one of 1, true")


def test_bodies(client):
    assert client.post("/body", json={"a": 1}).json == {"a": 1}
    refused = {"error": "body must be a JSON object (Content-Type: application/json)", "detail": None}
    for bad in (client.post("/body", json=[1]), client.post("/body"),
                client.post("/body", data="{", content_type="application/json")):
        assert bad.status_code == 400 and bad.json == refused
    assert client.post("/maybe-body").json == {}
    assert client.post("/maybe-body", json=3).json["error"] == "body must be a JSON object (or empty)"


def test_domain_errors_status_and_the_catch_all(client):
    assert client.get("/domain").status_code == 400
    assert client.get("/domain").json == {"error": "bad field", "detail": {"field": "x"}}
    assert client.get("/large").status_code == 413 and client.get("/large").json["error"] == "too big"
    assert client.get("/boom").status_code == 500
