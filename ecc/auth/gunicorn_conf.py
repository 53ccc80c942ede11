"""gunicorn configuration hook (`gunicorn -c python:ecc.auth.gunicorn_conf ...`; `ecc web` passes it):
refuses to start with auth off on a non-loopback bind, before any worker serves a request."""

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
