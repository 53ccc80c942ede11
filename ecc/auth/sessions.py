"""Browser sessions: an opaque random id in an HTTP-only, SameSite cookie; the session itself in Redis
(so every gunicorn worker sees it and logout ends it at once), keyed by the id's SHA-256 (a Redis dump
holds no usable cookie). A session is checked against the user row on every request: a disabled user,
a changed role or a password reset takes effect in every worker, even when set from the command line.

`start_session(response, user_name, role, source)` is the one way a user gets logged in: the login form
calls it, and so does a single sign-on callback (source "oidc").
"""

from __future__ import annotations

import hashlib
import json
import secrets
import time
from datetime import UTC

from flask import Response, request

from ecc.auth import audit, users
from ecc.auth.context import AuthContext, current
from ecc.auth.roles import Identity, check_role

COOKIE = "ecc_session"
_KEY = "ecc:auth:session:"
MAX_AGE_S = 7 * 24 * 3600  # a session ends after a week whatever its use


def _key(session_id: str) -> str:
    return _KEY + hashlib.sha256(session_id.encode()).hexdigest()


def cookie_secure(ctx: AuthContext) -> bool:
    """Secure cookies when configured, or (auto) when the request came over https (directly or, with
    ProxyFix in front, as the proxy says)."""
    mode = (getattr(ctx.settings, "session_cookie_secure", "auto") or "auto").lower()
    if mode in ("1", "true", "yes", "on"):
        return True
    if mode in ("0", "false", "no", "off"):
        return False
    return request.is_secure


def idle_seconds(ctx: AuthContext) -> int:
    return max(60, int(float(getattr(ctx.settings, "session_idle_hours", 12.0)) * 3600))


def start_session(response: Response, user_name: str, role: str, source: str = "local") -> Response:
    """Log `user_name` in on `response`: a new session (any earlier one of this browser ends: no fixation),
    its cookie, and an audit entry. For a single sign-on user the user row is made or its role refreshed."""
    ctx = current()
    check_role(role)
    if source != "local":
        user = users.upsert_external(ctx.engine, user_name, role, source)
        if not user.active:
            raise PermissionError(f"user {user_name!r} is disabled")
    _drop(ctx, request.cookies.get(COOKIE))
    session_id = secrets.token_urlsafe(32)
    record = {"name": user_name, "role": role, "source": source, "created": time.time()}
    ctx.redis.set(_key(session_id), json.dumps(record), ex=idle_seconds(ctx))
    response.set_cookie(COOKIE, session_id, max_age=MAX_AGE_S, httponly=True, samesite="Lax",
                        secure=cookie_secure(ctx), path="/")
    audit.record(ctx.engine, actor=user_name, actor_kind="session", action="login", method=request.method,
                 path=request.path, status=response.status_code, ip=request.remote_addr or "",
                 summary=audit.summary_of({"role": role, "action": source}))
    return response


def _drop(ctx: AuthContext, session_id: str | None) -> None:
    if session_id:
        ctx.redis.delete(_key(session_id))


def end_session(response: Response) -> Response:
    ctx = current()
    _drop(ctx, request.cookies.get(COOKIE))
    response.delete_cookie(COOKIE, path="/", httponly=True, samesite="Lax", secure=cookie_secure(ctx))
    return response


def load(ctx: AuthContext, session_id: str | None) -> Identity | None:
    """The identity of a live session, or None (unknown, expired, user disabled or reset since)."""
    if not session_id or len(session_id) > 100:
        return None
    key = _key(session_id)
    raw = ctx.redis.get(key)
    if raw is None:
        return None
    record = json.loads(raw)
    created = float(record.get("created", 0))
    user = users.get(ctx.engine, record["name"])
    valid_after = user.sessions_valid_after.replace(tzinfo=UTC).timestamp() if user else 0
    if user is None or not user.active or created < valid_after or time.time() - created > MAX_AGE_S:
        ctx.redis.delete(key)
        return None
    ctx.redis.expire(key, idle_seconds(ctx))  # idle timeout slides with use
    return Identity(name=user.name, role=user.role, source=user.source, kind="session")

