"""/api/v1/receivers and /api/v1/notifications (docs/api.md): a thin Flask adapter over
ecc/alerts/receivers.py and the delivery log.

Registering the blueprint also tells the app where the metadata database is
(`app.extensions["ecc.notify"]`), so the alerts page (layouts/alerts_page.py) calls the same functions.
Making it checks the receivers' secrets against the installation's key (a ConfigError stops the web
process: secrets stored and no key, or the wrong one; plain rows of an older version are sealed; `ecc web`
makes the same check before gunicorn starts, so a demo stops instead of restarting it). The outbox sweeper
that resumes deliveries a restart interrupted (ecc/alerts/notify.py) is a long-running web process's
(`Services.start_background`); a test may still ask for one here with `sweep_interval`.
Role checks are the access layer's (receivers and their log are admin's, docs/api.md Access).
"""

from __future__ import annotations

import logging

from flask import Blueprint, Response, jsonify, request

from ecc.alerts import notify, notify_log, receivers, receivers_secrets
from ecc.web.requests import ApiError, install, int_arg, json_object

log = logging.getLogger(__name__)
EXTENSION = "ecc.notify"


def create_notify_api(engine, settings, *, sweep_interval: float | None = None) -> Blueprint:
    """The blueprint; with `sweep_interval` (seconds) it also starts an outbox sweeper of its own."""
    box = receivers.check_start(engine, settings)
    if box is None:
        log.warning("receivers: no %s: receivers cannot have secrets (signing keys, SMTP passwords)",
                    receivers_secrets.KEY_VARIABLE)
    sweeper = notify.start_sweeper(engine, settings, sweep_interval) if sweep_interval else None
    api = Blueprint("alerts_notify", __name__)

    @api.record_once
    def bind(state) -> None:
        state.app.extensions[EXTENSION] = {"engine": engine, "settings": settings, "box": box,
                                           "sweeper": sweeper}

    install(api, receivers.ReceiverError)  # {"error", "detail"}, 400 (ecc/web/requests.py)

    def not_found(receiver_id: int):
        return jsonify({"error": f"no receiver {receiver_id}", "detail": None}), 404

    @api.get("/api/v1/receivers")
    def list_receivers():
        return jsonify([receivers.public(r) for r in receivers.list_receivers(engine)])

    @api.post("/api/v1/receivers")
    def create_receiver():
        created = receivers.create_receiver(engine, json_object(), box)
        log.info("receiver %s (%s) created", created["id"], created["kind"])
        return jsonify(created), 201

    @api.put("/api/v1/receivers/<int:receiver_id>")
    def update_receiver(receiver_id: int):
        updated = receivers.update_receiver(engine, receiver_id, json_object(), box)
        if updated is None:
            return not_found(receiver_id)
        log.info("receiver %s (%s) updated", receiver_id, updated["kind"])
        return jsonify(updated)

    @api.delete("/api/v1/receivers/<int:receiver_id>")
    def delete_receiver(receiver_id: int):
        if not receivers.delete_receiver(engine, receiver_id):
            return not_found(receiver_id)
        log.info("receiver %s deleted", receiver_id)
        return Response(status=204)

    @api.post("/api/v1/receivers/<int:receiver_id>/test")
    def test_receiver(receiver_id: int):
        try:
            return jsonify(notify.send_probe(engine, settings, receiver_id))
        except KeyError:
            return not_found(receiver_id)

    @api.get("/api/v1/notifications")
    def notifications():
        status = request.args.get("status")
        if status is not None and status not in notify_log.STATUSES:
            raise ApiError(f"status must be one of {', '.join(notify_log.STATUSES)}, got {status!r}")
        alert_id = request.args.get("alert_id")
        return jsonify(notify_log.list_deliveries(
            engine, limit=int_arg("limit", 100, 1, 1000), alert_id=alert_id,
            receiver_id=int_arg("receiver_id", None, 0, 2**31 - 1), status=status))

    return api
