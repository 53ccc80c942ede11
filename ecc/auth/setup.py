"""Wiring of the access layer into one web process (called by layouts.server)."""

from __future__ import annotations

from flask import Flask

from ecc.auth import guard, mode, oidc
from ecc.auth.api import create_auth_api
from ecc.auth.context import AuthContext


def context_for(services) -> AuthContext:
    """The access layer over the process's services: the metadata engine and the live store's Redis."""
    settings = services.settings
    return AuthContext(settings=settings, engine=services.meta, redis=services.live.r,
                       enabled=mode.enabled_in_app(getattr(settings, "auth", "auto")))


def install(server: Flask, ctx: AuthContext) -> guard.Guard:
    server.register_blueprint(create_auth_api())
    oidc.register(server, ctx.settings)  # single sign-on routes; the client when ECC_OIDC_ISSUER is set
    return guard.install(server, ctx)
