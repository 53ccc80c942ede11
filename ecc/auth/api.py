"""/api/v1/audit (admin) and /api/v1/me (whoever is logged in): a thin Flask adapter."""

from __future__ import annotations

from flask import Blueprint, g, jsonify, request

from ecc.auth import audit
from ecc.auth.context import current


def _int(name: str, default: int, low: int, high: int) -> int:
    try:
        value = int(request.args.get(name, default))
    except ValueError:
        value = -1
    if not low <= value <= high:
        raise ValueError(f"{name} must be an integer between {low} and {high}")
    return value


def create_auth_api() -> Blueprint:
    bp = Blueprint("auth_api", __name__)

    @bp.get("/api/v1/audit")
    def audit_log():
        try:
            limit, offset = _int("limit", 100, 1, 1000), _int("offset", 0, 0, 10_000_000)
        except ValueError as exc:
            return jsonify({"error": str(exc), "detail": None}), 400
        rows = audit.entries(current().engine, limit, offset, request.args.get("actor"),
                             request.args.get("action"))
        return jsonify({"items": [{
            "id": e.id, "at": e.at.isoformat(timespec="seconds") + "Z", "actor": e.actor,
            "actor_kind": e.actor_kind, "action": e.action, "method": e.method, "path": e.path,
            "status": e.status, "ip": e.ip, "summary": e.summary} for e in rows]})

    @bp.get("/api/v1/me")
    def me():
        who = g.get("identity")
        if who is None:
            return jsonify({"error": "authentication required", "detail": None}), 401
        return jsonify({"name": who.name, "role": who.role, "source": who.source, "kind": who.kind,
                        "scopes": sorted(who.scopes)})

    return bp
