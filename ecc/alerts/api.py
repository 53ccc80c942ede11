"""/api/v1/alerts, /alerts/{id}/ack, /silences, /alert-rules (docs/api.md): a thin Flask adapter over
ecc/alerts/store.py. Validation errors are JSON 400 `{"error", "detail"}`; role checks are the access
layer's (docs/api.md Access: ack and silences operator, rules admin)."""

from __future__ import annotations

import logging
from datetime import date

from flask import Blueprint, g, jsonify, request

from ecc.alerts import rules, store
from ecc.web.requests import ApiError, bool_arg, install, json_object

log = logging.getLogger(__name__)


def user_name() -> str:
    """The logged-in user's name (the access layer sets flask.g.identity), else "local" (auth off)."""
    identity = getattr(g, "identity", None)
    return str(getattr(identity, "name", None) or "local")


def _states() -> list[str] | None:
    states = request.args.getlist("state")
    bad = [s for s in states if s not in store.ALERT_STATES]
    if bad:
        raise ApiError(f"state must be one of {', '.join(store.ALERT_STATES)}", {"got": bad})
    return states or None


def _day() -> date | None:
    raw = request.args.get("day")
    if raw is None:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise ApiError(f"day must be a date like 2026-11-21, got {raw!r}") from None


def create_alerts_api(engine) -> Blueprint:
    api = Blueprint("alerts_api", __name__)

    install(api, rules.RuleError)  # {"error", "detail"}, 400 (ecc/web/requests.py)

    def not_found(what: str, ident: int):
        return jsonify({"error": f"no {what} {ident}", "detail": {"id": ident}}), 404

    # ---- alerts ----

    @api.get("/api/v1/alerts")
    def alerts():
        return jsonify(store.list_alerts(engine, _states(), _day()))

    @api.post("/api/v1/alerts/<int:alert_id>/ack")
    def ack(alert_id: int):
        body = json_object("body must be a JSON object (or empty)", empty_ok=True)
        comment = body.get("comment")
        if comment is not None and (not isinstance(comment, str) or len(comment) > 2000):
            raise ApiError("comment must be a string of at most 2000 characters", {"field": "comment"})
        alert = store.ack(engine, alert_id, user_name(), comment)
        return jsonify(alert) if alert is not None else not_found("alert", alert_id)

    # ---- silences ----

    @api.get("/api/v1/silences")
    def silences():
        return jsonify(store.list_silences(engine, include_expired=bool_arg("expired")))

    @api.post("/api/v1/silences")
    def create_silence():
        return jsonify(store.create_silence(engine, json_object(), user_name())), 201

    @api.delete("/api/v1/silences/<int:silence_id>")
    def delete_silence(silence_id: int):
        if not store.delete_silence(engine, silence_id):
            return not_found("silence", silence_id)
        return "", 204

    # ---- rules ----

    @api.get("/api/v1/alert-rules")
    def list_rules():
        return jsonify(store.list_rules(engine))

    @api.post("/api/v1/alert-rules")
    def create_rule():
        return jsonify(store.create_rule(engine, json_object())), 201

    @api.put("/api/v1/alert-rules/<int:rule_id>")
    def update_rule(rule_id: int):
        rule = store.update_rule(engine, rule_id, json_object())
        return jsonify(rule) if rule is not None else not_found("alert rule", rule_id)

    @api.delete("/api/v1/alert-rules/<int:rule_id>")
    def delete_rule(rule_id: int):
        if not store.delete_rule(engine, rule_id):
            return not_found("alert rule", rule_id)
        return "", 204

    return api
