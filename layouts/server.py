"""Composition root of the web process: `gunicorn 'layouts.server:application()'`.

Builds the services once per process (in the gunicorn worker, not at import), the Dash app over the
live store, and mounts /api/v1 on the same Flask server.
"""

from __future__ import annotations

import atexit
import logging

# Imported before the first request, not by it: plotly's validators look numpy and pandas up in
# sys.modules without importing them, so a figure built while another thread is importing them for the
# first time (the first chDB answer converted through pyarrow) met the half-initialized module and failed
# ("partially initialized module 'numpy' has no attribute 'ndarray'": a 500 on the wall's first refresh
# after a restart). The worker loads them at its first query anyway; this only moves it before serving.
import numpy  # noqa: F401
import pandas  # noqa: F401
import pyarrow  # noqa: F401
import redis

from ecc.alerts.api import create_alerts_api
from ecc.alerts.receivers_api import create_notify_api
from ecc.config import Settings
from ecc.services import Services
from ecc.web import static_cache
from ecc.web.api import create_api
from layouts.app import create_app
from layouts.context import WallContext, with_context
from layouts.shared import TickShare

log = logging.getLogger(__name__)


def safe_snapshot(services: Services):
    """The wall keeps running (showing "—" and a red freshness badge) while Redis is unreachable."""
    def provider() -> dict:
        try:
            snapshot = services.live.snapshot()
            state = getattr(services.live, "live_state", None)  # "ok" | "rebuilding" | "empty"
            if "live_state" not in snapshot and callable(state):
                snapshot = {**snapshot, "live_state": state()}
            return snapshot
        except redis.RedisError as exc:
            log.warning("live store unreachable: %s", exc)
            return {"error": f"live store unreachable: {exc}"}
    return provider


def build(settings: Settings):
    services = Services.build(settings)
    atexit.register(services.close)
    return compose(settings, services), services


def compose(settings: Settings, services: Services):
    """The whole web app over `services` (tests build their services themselves and call this)."""
    # The wall's comparisons, baselines, provinces and alerts beside the live snapshot (layouts/context.py),
    # read once per tick for every screen this process serves (layouts/shared.py).
    wall_snapshot = TickShare(with_context(safe_snapshot(services), WallContext.for_services(services)))
    app = create_app(settings, wall_snapshot,
                     extra_setup=lambda dash_app: dash_app.server.register_blueprint(create_api(services)))
    app.server.register_blueprint(create_notify_api(services.meta, settings))  # receivers, delivery log
    app.server.register_blueprint(create_alerts_api(services.meta))  # alerts, silences, alert rules
    static_cache.install(app.server)  # fingerprinted /assets/ cached for a year, compressed
    install_access(app.server, services)
    return app


def install_access(server, services: Services) -> None:
    """Access control (ecc/auth, docs/security.md): the guard in front of every route and callback, the
    login page and the admin page."""
    from ecc.auth import setup
    from layouts import admin_page, login

    login.register(server)
    admin_page.register(server)
    setup.install(server, setup.context_for(services))


def application():
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    app, _ = build(Settings.from_env())
    return app.server
