"""Wiring of the access layer into one web process (called by layouts.server)."""

from __future__ import annotations

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from ecc.auth import guard, hash_gate, mode, oidc
from ecc.auth.api import create_auth_api
from ecc.auth.context import AuthContext


def context_for(services) -> AuthContext:
    """The access layer over the process's services: the metadata engine and the live store's Redis."""
    settings = services.settings
    return AuthContext(settings=settings, engine=services.meta, redis=services.live.r,
                       enabled=mode.enabled_in_app(getattr(settings, "auth", "auto")))


def install(server: Flask, ctx: AuthContext) -> guard.Guard:
    hops = int(getattr(ctx.settings, "proxy_hops", 0) or 0)
    if hops:  # the client's address and scheme as the trusted proxies report them (ECC_PROXY_HOPS)
        server.wsgi_app = ProxyFix(server.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)
    hash_gate.configure(int(getattr(ctx.settings, "login_hash_slots", hash_gate.DEFAULT_SLOTS)),
                        float(getattr(ctx.settings, "login_hash_wait_s", hash_gate.DEFAULT_WAIT_S)))
    server.register_blueprint(create_auth_api())
    oidc.register(server, ctx.settings)  # single sign-on routes; the client when ECC_OIDC_ISSUER is set
    return guard.install(server, ctx)
