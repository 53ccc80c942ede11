"""gunicorn configuration hooks (`gunicorn -c python:ecc.auth.gunicorn_conf ...`; `ecc web` passes it):
refuses to start with auth off on a non-loopback bind, before any worker serves a request; and starts
each worker's background threads (alert evaluator, outbox sweeper) once it has loaded the app."""

from __future__ import annotations

import os

from ecc.auth.mode import AuthModeError, bind_host, resolve


def on_starting(server) -> None:
    hosts = [bind_host(b) for b in server.cfg.bind]
    try:
        enabled = resolve(os.environ.get("ECC_AUTH", "auto"), hosts)
    except AuthModeError as exc:
        server.log.error("refusing to start: %s", exc)
        raise SystemExit(2) from exc
    # The workers read the resolved mode (the app cannot see its binds).
    os.environ["ECC_AUTH"] = "on" if enabled else "off"


def post_worker_init(worker) -> None:
    """In each worker, after it loaded `layouts.server:application()`: only a serving web process runs
    the alert evaluator and the outbox sweeper (ecc/services.py), never a command that builds services."""
    from ecc.web.api import SERVICES_EXTENSION

    services = getattr(worker.wsgi, "extensions", {}).get(SERVICES_EXTENSION)
    if services is None:
        worker.log.warning("no ECC services in the app: alert evaluator and outbox sweeper not started")
        return
    services.start_background()
