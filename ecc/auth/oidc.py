"""Single sign-on (OIDC authorization code flow with PKCE) through Authlib's Flask client.

GET /auth/oidc/login -> the provider -> GET /auth/oidc/callback. Authlib does the protocol: discovery,
the authorization request (state, nonce, PKCE S256), the code exchange with the client secret, and the ID
token's checks (signature against the provider's JWKS, fetched again when the key id is new; issuer,
audience, expiry, nonce). ECC then maps the claims to a user and role (ecc.auth.oidc_claims) and logs the
user in through ecc.auth.sessions.start_session (source "oidc"), which records the login in the audit trail.

Authlib keeps a flow's state, nonce and PKCE verifier between the redirect and the callback in Flask's
signed-cookie session by default. ECC has no Flask session (browser sessions are opaque ids in Redis,
ecc.auth.sessions), so `_FlowStore` keeps them in Redis instead, under the state AND a random id in an
HTTP-only cookie of the browser that started the flow: a callback URL opened in another browser (login
CSRF: an attacker's code in a victim's browser) finds nothing, and a state works once.

A refused sign-in goes back to /login with `error=sso.<reason>`; the login page shows why (login_part).
"""

from __future__ import annotations

import hashlib
import json
import logging
import secrets
from dataclasses import dataclass
from urllib.parse import urlencode

import requests
from authlib.common.errors import AuthlibBaseError
from authlib.integrations.flask_client import FlaskIntegration, OAuth
from flask import Flask, Response, current_app, g, jsonify, redirect, request
from joserfc.errors import JoseError
from markupsafe import Markup

from ecc.auth import audit, sessions, users
from ecc.auth.context import current
from ecc.auth.oidc_claims import CALLBACK_PATH, OidcConfig, from_settings, role_for, user_name_of
from ecc.auth.redirects import safe_next

log = logging.getLogger(__name__)

LOGIN_PATH = "/auth/oidc/login"
FLOW_COOKIE = "ecc_oidc_flow"
FLOW_TTL_S = 600  # a sign-in at the provider must finish within 10 minutes
_KEY = "ecc:auth:oidc:flow:"
_EXTENSION = "ecc_oidc"
_TIMEOUT_S = 10  # discovery, JWKS, token and userinfo requests to the provider

STRINGS: dict[str, tuple[str, str]] = {
    "sso.button": ("使用单点登录", "Sign in with SSO"),
    "sso.or": ("或", "or"),
}
# Why a sign-in was refused (/login?error=sso.<reason>), as the login page says it.
REFUSALS: dict[str, tuple[str, str]] = {
    "state": ("单点登录已失效或来自其他浏览器，请重新登录",
              "The sign-in expired or came from another browser: please sign in again"),
    "token": ("身份提供方的凭证未通过校验", "The identity provider's token did not pass the checks"),
    "denied": ("身份提供方未完成登录", "The identity provider did not sign you in"),
    "unavailable": ("身份提供方暂时无法访问，请稍后再试",
                    "The identity provider cannot be reached: try again later"),
    "no_role": ("您的账号未被授予本系统的角色，请联系管理员",
                "Your account has no role in ECC: ask an admin"),
    "name": ("身份提供方未提供可用的用户名", "The identity provider sent no usable user name"),
    "local_user": ("同名本地账号已存在，请使用密码登录或联系管理员",
                   "A local account has this name: log in with its password or ask an admin"),
    "disabled": ("该账号已被停用", "This account is disabled"),
}

# The login page's palette (assets/wall.css variables); the button reads like the page's own.
_STYLE = """
.auth-or { margin: 18px 0 0; text-align: center; color: var(--muted); font-size: 13px; }
a.auth-sso-btn { display: block; box-sizing: border-box; margin-top: 10px; width: 100%; padding: 10px;
  text-align: center; font-size: 15px; letter-spacing: 2px; text-decoration: none; color: var(--cyan);
  border: 1px solid var(--cyan); border-radius: 4px; background: transparent; }
a.auth-sso-btn:hover { background: rgba(34, 211, 238, 0.1); }
"""


def t(key: str, lang: str, table: dict[str, tuple[str, str]] = STRINGS) -> str:
    zh, en = table[key]
    return en if lang == "en" else zh


@dataclass(frozen=True)
class _Sso:
    config: OidcConfig
    client: object  # authlib FlaskOAuth2App


def _flow_key(flow_id: str, state: str) -> str:
    return _KEY + hashlib.sha256(f"{flow_id}\0{state}".encode()).hexdigest()


class _FlowStore(FlaskIntegration):
    """Authlib's per-flow data (state, nonce, PKCE verifier, redirect URI, and ECC's `next`/`lang`) in
    Redis, bound to the browser's flow cookie; read once (GETDEL)."""

    def set_state_data(self, session, state, data):
        data = {**data, "ecc": g.get("ecc_oidc_extra", {})}
        current().redis.set(_flow_key(g.ecc_oidc_flow, state), json.dumps(data), ex=FLOW_TTL_S)

    def get_state_data(self, session, state):
        flow_id = request.cookies.get(FLOW_COOKIE)
        if not flow_id or not state or len(state) > 200:
            return None
        raw = current().redis.getdel(_flow_key(flow_id, state))
        data = json.loads(raw) if raw else None
        g.ecc_oidc_state = data
        return data

    def clear_state_data(self, session, state):
        pass  # get_state_data deleted it


class _OAuth(OAuth):
    framework_integration_cls = _FlowStore


def _sso() -> _Sso | None:
    return current_app.extensions.get(_EXTENSION)


def enabled() -> bool:
    return _sso() is not None


def login_part(lang: str, next_path: str, error: str | None) -> Markup:
    """What the login page shows for single sign-on: the SSO button when configured, and why the last
    sign-in was refused (error=sso.<reason>). Empty when single sign-on is off."""
    if not enabled():
        return Markup("")
    message = ""
    reason = (error or "").removeprefix("sso.") if (error or "").startswith("sso.") else None
    if reason in REFUSALS:
        message = Markup('<div class="auth-error" id="sso-error">{}</div>').format(t(reason, lang, REFUSALS))
    href = LOGIN_PATH + "?" + urlencode({"next": next_path, **({"lang": lang} if lang == "en" else {})})
    return Markup(
        '<style>{style}</style><div class="auth-sso"><p class="auth-or">{or_}</p>'
        '<a class="auth-btn auth-sso-btn" id="sso-login" href="{href}">{label}</a>{message}</div>'
    ).format(style=Markup(_STYLE), or_=t("sso.or", lang), href=href, label=t("sso.button", lang),
             message=message)


def _refuse(reason: str, lang: str, actor: str = "?", detail: str = "") -> Response:
    """Back to the login page with the reason; the attempt in the audit trail (never a token in it)."""
    ctx = current()
    log.warning("single sign-on refused (%s) for %r: %r", reason, actor, detail)
    audit.record(ctx.engine, actor=actor, actor_kind="none", action="login.failed", method=request.method,
                 path=request.path, status=303, ip=request.remote_addr or "",
                 summary=audit.summary_of({"action": "oidc", "kind": reason}))
    query = f"error=sso.{reason}" + ("&lang=en" if lang == "en" else "")
    resp = redirect(f"/login?{query}", code=303)
    _drop_flow_cookie(resp)
    return resp


def _drop_flow_cookie(resp: Response) -> None:
    resp.delete_cookie(FLOW_COOKIE, path="/auth/oidc/", httponly=True, samesite="Lax",
                       secure=sessions.cookie_secure(current()))


def _not_configured() -> Response:
    resp = jsonify({"error": "not found", "detail": "single sign-on is not configured (ECC_OIDC_ISSUER)"})
    resp.status_code = 404
    return resp


def _lang() -> str:
    return "en" if request.args.get("lang") == "en" else "zh"


def _start() -> Response:
    sso = _sso()
    if sso is None:
        return _not_configured()
    lang = _lang()
    flow_id = secrets.token_urlsafe(32)
    g.ecc_oidc_flow = flow_id
    g.ecc_oidc_extra = {"next": safe_next(request.args.get("next")), "lang": lang}
    try:
        _metadata(sso)
        resp = sso.client.authorize_redirect(sso.config.redirect_uri(request.host_url),
                                             ui_locales="en" if lang == "en" else "zh-CN")
    except (requests.RequestException, AuthlibBaseError, RuntimeError, ValueError) as exc:
        return _refuse("unavailable", lang, detail=f"discovery at {sso.config.discovery_url}: {exc}")
    resp.set_cookie(FLOW_COOKIE, flow_id, max_age=FLOW_TTL_S, httponly=True, samesite="Lax",
                    secure=sessions.cookie_secure(current()), path="/auth/oidc/")
    resp.headers["Cache-Control"] = "no-store"
    return resp


def _metadata(sso: _Sso) -> dict:
    """The provider's discovery document (Authlib caches it per process), checked to be the configured
    issuer's (OIDC Discovery 4.3): Authlib checks ID tokens against the issuer this document names."""
    metadata = sso.client.load_server_metadata()
    if str(metadata.get("issuer", "")).rstrip("/") != sso.config.issuer.rstrip("/"):
        raise ValueError(f"the discovery document names issuer {metadata.get('issuer')!r}, "
                         f"not {sso.config.issuer!r}")
    return metadata


def _claims(sso: _Sso, token: dict) -> dict:
    """The verified ID token's claims, completed from the userinfo endpoint when the name or the roles claim
    is not in the ID token (some providers put groups only there). The ID token's values win."""
    claims = dict(token["userinfo"])
    wanted = (sso.config.username_claim.split(".")[0], sso.config.roles_claim.split(".")[0])
    if all(w in claims for w in wanted) or not _metadata(sso).get("userinfo_endpoint"):
        return claims
    extra = dict(sso.client.userinfo(token=token))
    if extra.get("sub") != claims.get("sub"):  # OIDC Core 5.3.2: else the answer is not about this user
        raise ValueError("userinfo is about another subject")
    return {**extra, **claims}


def _finish() -> Response:
    sso = _sso()
    if sso is None:
        return _not_configured()
    lang = _lang()
    if request.args.get("error") and request.args.get("state"):
        # The provider refused (the user cancelled, or is not allowed the client): the flow ends here.
        flow = _FlowStore("oidc").get_state_data(None, request.args["state"])
        lang = (flow or {}).get("ecc", {}).get("lang", lang)
        return _refuse("denied" if flow else "state", lang, detail=request.args.get("error", "")[:100])
    try:
        _metadata(sso)
        token = sso.client.authorize_access_token()
    except (AuthlibBaseError, JoseError) as exc:
        flow = g.get("ecc_oidc_state")
        reason = "state" if flow is None else "token"
        return _refuse(reason, (flow or {}).get("ecc", {}).get("lang", lang), detail=repr(exc)[:200])
    except (requests.RequestException, ValueError) as exc:
        return _refuse("unavailable", lang, detail=repr(exc)[:200])
    extra = g.ecc_oidc_state.get("ecc", {})
    lang = extra.get("lang", lang)
    if "userinfo" not in token:  # no ID token in the answer: nothing proves who this is
        return _refuse("token", lang, detail="the token response has no id_token")
    try:
        claims = _claims(sso, token)
    except (AuthlibBaseError, requests.RequestException, ValueError) as exc:
        return _refuse("token", lang, detail=repr(exc)[:200])
    try:
        name = user_name_of(claims, sso.config)
    except ValueError as exc:
        return _refuse("name", lang, detail=str(exc))
    role = role_for(claims, sso.config)
    if role is None:
        return _refuse("no_role", lang, actor=name, detail=f"no {sso.config.roles_claim!r} value is mapped")
    existing = users.get(current().engine, name)
    if existing is not None and existing.source == "local":
        # A provider must not take over a password account that happens to share the name.
        return _refuse("local_user", lang, actor=name, detail="a local user has this name")
    resp = redirect(safe_next(extra.get("next")), code=303)
    _drop_flow_cookie(resp)
    try:
        return sessions.start_session(resp, name, role, "oidc")
    except PermissionError:
        return _refuse("disabled", lang, actor=name, detail="the user is disabled")


def register(server: Flask, settings) -> None:
    """The SSO routes (always present, 404 until ECC_OIDC_ISSUER is set) and, when configured, the client.
    A configuration error (ecc.auth.oidc_claims.OidcConfigError) stops the start: better than a login page
    whose SSO button fails for everyone."""
    server.add_url_rule(LOGIN_PATH, "auth_oidc_login", _start, methods=["GET"])
    server.add_url_rule(CALLBACK_PATH, "auth_oidc_callback", _finish, methods=["GET"])
    config = from_settings(settings)
    if config is None:
        return
    oauth = _OAuth(server)
    client = oauth.register(
        "oidc", client_id=config.client_id, client_secret=config.client_secret,
        server_metadata_url=config.discovery_url, code_challenge_method="S256",
        client_kwargs={"scope": config.scopes, "default_timeout": _TIMEOUT_S})
    server.extensions[_EXTENSION] = _Sso(config, client)
