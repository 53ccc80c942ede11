"""The Flask hooks that enforce ecc.auth.policy on every request and write the audit trail.

before_request (installed first, so no other hook runs for a refused request):
  1. who: a bearer token (Authorization header), else a session cookie, else a kiosk-token cookie;
     with auth off, everyone on a loopback address is the anonymous admin and nobody else is served;
  2. a page opened with `?token=<kiosk token>` swaps the token for a cookie and redirects to the same
     address without it (the token leaves the address bar, history and kiosk.js's saved parameters);
  3. CSRF (ecc.auth.origin) for requests a cookie authenticates;
  4. the rule of the matched route (and, for a Dash callback, of its outputs) against the role; a
     token's scope (events:write) and the per-token ingest rate limit;
  5. `flask.g.identity` for the handlers (acked_by, created_by …).
after_request records state changes, exports and refusals of state changes in the audit trail.
"""

from __future__ import annotations

import logging
import threading
import time
from urllib.parse import urlencode

import redis
from flask import Flask, Response, g, jsonify, redirect, request
from markupsafe import escape

from ecc.auth import audit, origin, policy, sessions, throttle, tokens
from ecc.auth.context import EXTENSION, AuthContext, current
from ecc.auth.mode import is_loopback_host
from ecc.auth.roles import ANONYMOUS_ADMIN, PUBLIC, Identity, allows, highest

log = logging.getLogger(__name__)

KIOSK_COOKIE = "ecc_kiosk"
KIOSK_MAX_AGE_S = 400 * 24 * 3600  # the longest a browser keeps a cookie (RFC 6265bis): a wall runs on
LOGIN_PATH = "/login"
DASH_CALLBACK = "/_dash-update-component"
_CHANGES = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# Not audited per request: ingest (a token's use is its last-used record), login/logout (recorded by the
# login view with the user's name), Dash callbacks (recorded when the callback needs operator or more).
_NOT_AUDITED = frozenset({"/api/v1/events", LOGIN_PATH, "/logout", DASH_CALLBACK})
_MARK_EVERY_S = 60.0  # a token's last-used record is written at most once a minute per worker


class _UseMemo:
    """Per-process memo of when each token's use was last written (the wall asks every second)."""

    def __init__(self) -> None:
        self._seen: dict[str, float] = {}
        self._lock = threading.Lock()

    def due(self, token_id: str, ip: str) -> bool:
        now = time.monotonic()
        with self._lock:
            last = self._seen.get(f"{token_id}|{ip}")
            if last is not None and now - last < _MARK_EVERY_S:
                return False
            self._seen[f"{token_id}|{ip}"] = now
            return True


def _error(status: int, message: str, detail=None, headers: dict | None = None) -> Response:
    resp = jsonify({"error": message, "detail": detail})
    resp.status_code = status
    for k, v in (headers or {}).items():
        resp.headers[k] = v
    return resp


def _wants_page() -> bool:
    machine = ("/api/", "/_dash-", "/_reload", "/metrics")
    return request.method in ("GET", "HEAD") and not request.path.startswith(machine)


def _login_redirect(error: str | None = None) -> Response:
    nxt = request.full_path if request.query_string else request.path
    params = {"next": nxt}
    if error:
        params["error"] = error
    if request.args.get("lang"):
        params["lang"] = request.args["lang"]
    return redirect(f"{LOGIN_PATH}?{urlencode(params)}", code=302)


def _forbidden_page(level: str, who: Identity) -> Response:
    """A page a logged-in user may not open: a plain page in both languages, not a JSON body."""
    body = escape(f"{who.name} ({who.role})")
    html = ('<!DOCTYPE html><html lang="zh-CN"><head><meta charset="utf-8"><title>403</title>'
            '<link rel="stylesheet" href="/assets/wall.css"></head>'
            '<body class="ecc-body" style="padding:40px">'
            f'<h1>403</h1><p>无权限：需要 {level} 角色 · Not allowed: needs the {level} role</p>'
            f'<p>{body}</p><p><a href="/">返回大屏 · Back to the wall</a> · '
            '<a href="/logout">退出登录 · Log out</a></p></body></html>')
    return Response(html, status=403, mimetype="text/html")


def _without_token_url() -> str:
    params = [(k, v) for k, v in request.args.items(multi=True) if k != "token"]
    return request.path + (f"?{urlencode(params)}" if params else "")


def _token_identity(token: tokens.TokenView) -> Identity:
    return Identity(name=f"token:{token.id}", role=token.role, source="token", kind=token.kind,
                    scopes=frozenset(token.scopes), token_id=token.id)


class Guard:
    def __init__(self, ctx: AuthContext) -> None:
        self.ctx = ctx
        self.memo = _UseMemo()

    # ---- who ---------------------------------------------------------------------------------------
    def _identity(self) -> tuple[Identity | None, tokens.TokenView | None, bool]:
        """(identity, its token if any, whether a cookie authenticated it)."""
        header = request.headers.get("Authorization", "")
        if header[:7].lower() == "bearer ":
            token = tokens.find(self.ctx.engine, header[7:].strip())
            if token is None or token.kind != "bearer":
                return None, None, False
            return _token_identity(token), token, False
        identity = sessions.load(self.ctx, request.cookies.get(sessions.COOKIE))
        if identity is not None:
            return identity, None, True
        kiosk = request.cookies.get(KIOSK_COOKIE)
        if kiosk:
            token = tokens.find(self.ctx.engine, kiosk)
            if token is not None and token.kind == "kiosk":
                return _token_identity(token), token, True
        return None, None, False

    def _mark_use(self, token: tokens.TokenView) -> None:
        ip, agent = request.remote_addr or "", request.headers.get("User-Agent", "")
        if not self.memo.due(token.id, ip):
            return
        previous = tokens.mark_used(self.ctx.engine, token.id, ip, agent)
        if previous != ip:  # first use, or from a new address: worth an audit line
            audit.record(self.ctx.engine, actor=f"token:{token.id}", actor_kind=token.kind,
                         action="token.use", method=request.method, path=request.path, ip=ip,
                         summary=audit.summary_of({"label": token.label}))

    # ---- the check ---------------------------------------------------------------------------------
    def before(self) -> Response | None:
        if request.method == "OPTIONS":
            return None
        matched = request.url_rule.rule if request.url_rule is not None else None
        rule = policy.route_rule(request.method, matched)
        if rule is None:
            # A rule the table lacks is for admins; no route at all (Flask's 404/405) for viewers.
            rule = policy.Rule(policy.UNKNOWN if matched else policy.VIEWER)
        g.auth_rule = rule
        if not self.ctx.enabled:
            return self._open(rule)

        if request.method == "GET" and "token" in request.args and not request.path.startswith("/api/"):
            return self._redeem_kiosk_token()

        try:
            identity, token, by_cookie = self._identity()
        except redis.RedisError as exc:
            # Sessions live in Redis: without it nobody can be recognised by cookie (kiosk and bearer
            # tokens, in the metadata DB, do not get here unless a session cookie is sent as well).
            log.warning("session store unreachable: %s", exc)
            return _error(503, "session store unreachable", "try again shortly", {"Retry-After": "5"})
        g.identity = identity
        reason = origin.cross_site_reason(request.method, request.headers, request.host, request.scheme,
                                          self.ctx.trusted_origins, by_cookie or request.path == LOGIN_PATH)
        if reason:
            return _error(403, "forbidden", reason)

        level = rule.level
        if request.path == DASH_CALLBACK and request.method == "POST":
            level = highest([level, self._callback_level()])
            g.auth_rule = policy.Rule(level)
        if level == PUBLIC:
            return None
        if identity is None:
            if _wants_page():
                return _login_redirect()
            return _error(401, "authentication required",
                          "log in at /login, or send Authorization: Bearer <token>",
                          {"WWW-Authenticate": 'Bearer realm="ecc"'})
        if token is not None:
            self._mark_use(token)
        if rule.scope and rule.scope not in identity.scopes:
            return _error(403, "forbidden", f"needs a bearer token with the {rule.scope} scope")
        if not allows(identity.role, level):
            if _wants_page():
                return _forbidden_page(level, identity)
            return _error(403, "forbidden", f"needs role {level}; {identity.name} is {identity.role}")
        if rule.scope and token is not None:
            default = int(getattr(self.ctx.settings, "ingest_requests_per_minute", 600))
            limit = token.rate_per_minute or default
            try:
                wait = throttle.rate_hit(self.ctx.redis, f"token:{token.id}", limit)
            except redis.RedisError as exc:  # ingest must not stop with the counter: let it through
                log.warning("ingest rate limit not checked (Redis unreachable): %s", exc)
                wait = 0
            if wait:
                return _error(429, "too many requests",
                              f"token {token.id}: at most {limit} requests a minute",
                              {"Retry-After": str(wait)})
        return None

    def _open(self, rule: policy.Rule) -> Response | None:
        """Auth off: loopback clients only, as the anonymous admin; CSRF still checked (a web page in the
        demo's browser must not drive the demo)."""
        if not is_loopback_host(request.remote_addr or ""):
            return _error(403, "forbidden", "auth is off: this server answers loopback clients only "
                                            "(set ECC_AUTH=on to serve the network)")
        g.identity = ANONYMOUS_ADMIN
        reason = origin.cross_site_reason(request.method, request.headers, request.host, request.scheme,
                                          self.ctx.trusted_origins, False)
        return _error(403, "forbidden", reason) if reason else None

    def _callback_level(self) -> str:
        body = request.get_json(silent=True)
        key = body.get("output") if isinstance(body, dict) else None
        if not isinstance(key, str):
            return policy.UNKNOWN
        level, missing = policy.callback_rule(key)
        if missing:
            log.warning("Dash callback output(s) %s have no access rule: admins only", missing)
        return level

    def _redeem_kiosk_token(self) -> Response:
        token = tokens.find(self.ctx.engine, request.args.get("token", ""))
        ip = request.remote_addr or ""
        if token is None or token.kind != "kiosk":
            audit.record(self.ctx.engine, actor="anonymous", actor_kind="none", action="token.invalid",
                         method=request.method, path=request.path, status=302, ip=ip)
            return _login_redirect("token")
        resp = redirect(_without_token_url(), code=302)
        resp.set_cookie(KIOSK_COOKIE, request.args["token"], max_age=KIOSK_MAX_AGE_S, httponly=True,
                        samesite="Lax", secure=sessions.cookie_secure(self.ctx), path="/")
        resp.headers["Cache-Control"] = "no-store"
        resp.headers["Referrer-Policy"] = "no-referrer"
        tokens.mark_used(self.ctx.engine, token.id, ip, request.headers.get("User-Agent", ""))
        audit.record(self.ctx.engine, actor=f"token:{token.id}", actor_kind="kiosk", action="token.redeem",
                     method=request.method, path=request.path, status=302, ip=ip,
                     summary=audit.summary_of({"label": token.label}))
        return resp

    # ---- the trail ---------------------------------------------------------------------------------
    def after(self, response: Response) -> Response:
        rule: policy.Rule | None = g.get("auth_rule")
        if rule is None:
            return response
        identity: Identity | None = g.get("identity")
        action = None
        if rule.audit and response.status_code < 400:
            action = rule.audit
        elif request.method in _CHANGES and request.path not in _NOT_AUDITED:
            action = "change" if response.status_code < 400 else "refused"
        elif request.path == DASH_CALLBACK and rule.level in ("operator", "admin"):
            action = "callback" if response.status_code < 400 else "refused"
        if action is None:
            return response
        args = request.args.to_dict()
        if rule.audit == "export":
            args["format"] = "csv" if response.mimetype == "text/csv" else "json"
        body = request.get_json(silent=True) if request.is_json else request.form.to_dict() or None
        if request.path == DASH_CALLBACK and isinstance(body, dict):
            body = {"output": "…", "id": str(body.get("output", ""))[:100]}
        audit.record(self.ctx.engine, actor=identity.name if identity else "anonymous",
                     actor_kind=identity.kind if identity else "none", action=action, method=request.method,
                     path=request.path, status=response.status_code, ip=request.remote_addr or "",
                     summary=audit.summary_of(args, body))
        return response


def install(app: Flask, ctx: AuthContext) -> Guard:
    """Put the guard in front of every other hook of `app` (and of its blueprints)."""
    app.extensions[EXTENSION] = ctx
    guard = Guard(ctx)
    app.before_request_funcs.setdefault(None, []).insert(0, guard.before)
    app.after_request_funcs.setdefault(None, []).append(guard.after)
    return guard


def identity() -> Identity | None:
    return g.get("identity")


__all__ = ["KIOSK_COOKIE", "Guard", "current", "identity", "install"]
