"""The login page (/login) and logout (/logout), in the wall's dark style, Chinese first with an English
switch (`?lang=en`). Plain server-rendered HTML: the page must work before anyone is allowed to load the
Dash app, and it needs no script. Also the HTML shell the admin page shares.
"""

from __future__ import annotations

from urllib.parse import urlencode

from flask import Flask, Response, g, jsonify, redirect, request
from markupsafe import Markup, escape

from ecc.auth import audit, hash_gate, oidc, sessions, throttle, users
from ecc.auth.context import current
from ecc.auth.guard import KIOSK_COOKIE
from ecc.auth.redirects import safe_next  # one rule for login and single sign-on
from layouts.i18n import DEFAULT_LANG, LANGS

STRINGS: dict[str, tuple[str, str]] = {
    "login.title": ("登录 · ECC 业务指挥中心", "Log in · ECC Command Center"),
    "login.heading": ("互联网分公司 · 业务指挥中心", "Internet Branch · Business Command Center"),
    "login.user": ("用户名", "User name"),
    "login.password": ("密码", "Password"),
    "login.submit": ("登录", "Log in"),
    "login.failed": ("用户名或密码错误", "Wrong user name or password"),
    "login.locked": ("尝试次数过多，请 {minutes} 分钟后再试",
                     "Too many attempts: try again in {minutes} min"),
    "login.token": ("大屏令牌无效或已吊销，请联系管理员",
                    "The screen token is invalid or revoked: ask an admin"),
    "login.expired": ("登录已过期，请重新登录", "Your session ended: please log in again"),
    "login.busy": ("登录请求过多，请稍后再试", "Too many logins at once: try again in a moment"),
    "login.sso": ("使用单点登录", "Single sign-on"),
    "logout.title": ("退出登录", "Log out"),
    "logout.question": ("退出当前账号？", "Log out of this account?"),
    "logout.submit": ("退出", "Log out"),
    "logout.done": ("已退出登录", "You are logged out"),
    "nav.wall": ("返回大屏", "Back to the wall"),
    "lang.switch": ("English", "中文"),
}

_STYLE = """
html, body { overflow: auto; }
.auth-page { min-height: 100vh; display: flex; flex-direction: column; align-items: center;
  justify-content: center; gap: 20px; padding: 24px; box-sizing: border-box; position: relative; }
.auth-card { width: min(420px, 92vw); padding: 32px 36px; border: 1px solid var(--line-strong);
  background: linear-gradient(180deg, var(--panel-top), var(--panel-bottom)); border-radius: 6px;
  box-shadow: 0 0 32px rgba(34, 211, 238, 0.12); }
.auth-card h1 { margin: 0 0 6px; font-size: 22px; letter-spacing: 2px; color: var(--cyan); }
.auth-card h2 { margin: 0 0 22px; font-size: 15px; font-weight: normal; color: var(--muted); }
.auth-card label { display: block; margin: 14px 0 6px; color: var(--muted); font-size: 14px; }
.auth-card input, .auth-card select { width: 100%; box-sizing: border-box; padding: 10px 12px;
  font-size: 16px; color: var(--text); background: rgba(3, 8, 22, 0.7); border: 1px solid var(--line);
  border-radius: 4px; font-family: var(--font); }
.auth-card input:focus { outline: none; border-color: var(--cyan); }
button.auth-btn { margin-top: 22px; width: 100%; padding: 11px; font-size: 16px; letter-spacing: 4px;
  color: #031022; background: linear-gradient(90deg, var(--cyan), var(--blue)); border: 0;
  border-radius: 4px; cursor: pointer; font-family: var(--font); }
.auth-error { margin-top: 14px; padding: 8px 12px; color: var(--red); border: 1px solid var(--red);
  border-radius: 4px; background: rgba(255, 92, 122, 0.08); }
.auth-note { margin-top: 14px; color: var(--green); }
.auth-lang { position: absolute; top: 18px; right: 24px; color: var(--cyan); z-index: 2; }
a { color: var(--cyan); }
"""


def t(key: str, lang: str, **values) -> str:
    zh, en = STRINGS[key]
    text = en if lang == "en" else zh
    return text.format(**values) if values else text


def lang_of() -> str:
    lang = request.values.get("lang", DEFAULT_LANG)
    return lang if lang in LANGS else DEFAULT_LANG


def with_lang(path: str, lang: str, **params: str) -> str:
    query = {**({"lang": lang} if lang != DEFAULT_LANG else {}), **{k: v for k, v in params.items() if v}}
    return path + (f"?{urlencode(query)}" if query else "")


def page(title: str, body: Markup | str, lang: str, status: int = 200, extra_style: str = "",
         switch_to: str | None = None) -> Response:
    """A whole HTML page in the wall's theme (assets/wall.css for the palette)."""
    other = "en" if lang != "en" else "zh"
    nxt = safe_next(request.values["next"]) if request.values.get("next") else ""
    switch = switch_to or with_lang(request.path, other, next=nxt, error=request.args.get("error", ""))
    html = Markup(
        '<!DOCTYPE html><html lang="{lang_attr}"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<meta name="referrer" content="no-referrer"><title>{title}</title>'
        '<link rel="stylesheet" href="/assets/wall.css"><style>{style}</style></head>'
        '<body class="ecc-body"><a class="auth-lang" id="lang-switch" href="{switch}">{switch_text}</a>'
        '{body}</body></html>'
    ).format(lang_attr="en" if lang == "en" else "zh-CN", title=title, style=Markup(_STYLE + extra_style),
             switch=switch, switch_text=t("lang.switch", lang), body=body)
    resp = Response(str(html), status=status, mimetype="text/html")
    resp.headers["Cache-Control"] = "no-store"
    resp.headers["X-Frame-Options"] = "DENY"
    return resp


def _login_form(lang: str, error: str | None, name: str = "", status: int = 200) -> Response:
    nxt = safe_next(request.values.get("next"))
    error_html = Markup('<div class="auth-error" id="login-error">{}</div>').format(error) if error else ""
    body = Markup(
        '<main class="auth-page"><form class="auth-card" method="post" action="/login" id="login-form">'
        '<h1>ECC</h1><h2>{heading}</h2>'
        '<input type="hidden" name="next" value="{next}"><input type="hidden" name="lang" value="{lang}">'
        '<label for="username">{user}</label>'
        '<input id="username" name="username" autocomplete="username" required autofocus value="{name}">'
        '<label for="password">{password}</label>'
        '<input id="password" name="password" type="password" autocomplete="current-password" required>'
        '<button class="auth-btn" type="submit" id="login-submit">{submit}</button>{error}{sso}</form></main>'
    ).format(sso=oidc.login_part(lang, nxt, request.args.get("error")),  # single sign-on (ecc/auth/oidc)
             heading=t("login.heading", lang), next=nxt, lang=lang, user=t("login.user", lang),
             name=name, password=t("login.password", lang), submit=t("login.submit", lang), error=error_html)
    return page(t("login.title", lang), body, lang, status)


def _show_login():
    lang = lang_of()
    if g.get("identity") is not None and g.identity.kind == "session":
        return redirect(safe_next(request.args.get("next")))
    error = {"token": "login.token", "expired": "login.expired"}.get(request.args.get("error", ""))
    return _login_form(lang, t(error, lang) if error else None)


def _do_login():
    ctx = current()
    lang = lang_of()
    name = (request.form.get("username") or "").strip()[:64]
    password = request.form.get("password") or ""
    ip = request.remote_addr or ""
    gate = throttle.LoginThrottle(ctx.redis)
    wait = gate.retry_after(name, ip)
    if wait:
        audit.record(ctx.engine, actor=name or "?", actor_kind="none", action="login.throttled",
                     method="POST", path=request.path, status=429, ip=ip)
        resp = _login_form(lang, t("login.locked", lang, minutes=max(1, -(-wait // 60))), name, 429)
        resp.headers["Retry-After"] = str(wait)
        return resp
    try:
        user = users.authenticate(ctx.engine, name, password)
    except hash_gate.Busy as busy:  # every password-check slot of this process stayed taken
        return _busy(lang, name, busy.retry_after_s)
    if user is None:
        gate.failed(name, ip)
        audit.record(ctx.engine, actor=name or "?", actor_kind="none", action="login.failed", method="POST",
                     path=request.path, status=401, ip=ip)
        return _login_form(lang, t("login.failed", lang), name, 401)
    gate.succeeded(name)
    return sessions.start_session(redirect(safe_next(request.form.get("next")), code=303), user.name,
                                  user.role, user.source)


def _busy(lang: str, name: str, retry_after_s: int) -> Response:
    """503 with Retry-After: the form again for a browser, a JSON error for anything else (a script)."""
    if request.accept_mimetypes.best_match(["application/json", "text/html"]) == "text/html":
        resp = _login_form(lang, t("login.busy", lang), name, 503)
    else:
        resp = jsonify({"error": "busy", "detail": "too many password checks at once; retry later"})
        resp.status_code = 503
    resp.headers["Retry-After"] = str(retry_after_s)
    return resp


def _show_logout():
    lang = lang_of()
    body = Markup(
        '<main class="auth-page"><form class="auth-card" method="post" action="/logout" id="logout-form">'
        '<h1>ECC</h1><h2>{question}</h2><input type="hidden" name="lang" value="{lang}">'
        '<button class="auth-btn" type="submit" id="logout-submit">{submit}</button>'
        '<p><a href="{wall}">{back}</a></p></form></main>'
    ).format(question=t("logout.question", lang), lang=lang, submit=t("logout.submit", lang),
             wall=with_lang("/", lang), back=t("nav.wall", lang))
    return page(t("logout.title", lang), body, lang)


def _do_logout():
    ctx = current()
    who = g.get("identity")
    if who is not None:
        audit.record(ctx.engine, actor=who.name, actor_kind=who.kind, action="logout", method="POST",
                     path=request.path, status=303, ip=request.remote_addr or "")
    resp = redirect(with_lang("/login", lang_of(), error=""), code=303)
    resp.delete_cookie(KIOSK_COOKIE, path="/", httponly=True, samesite="Lax",
                       secure=sessions.cookie_secure(ctx))
    return sessions.end_session(resp)


def register(server: Flask) -> None:
    server.add_url_rule("/login", "auth_login", _show_login, methods=["GET"])
    server.add_url_rule("/login", "auth_login_post", _do_login, methods=["POST"])
    server.add_url_rule("/logout", "auth_logout", _show_logout, methods=["GET"])
    server.add_url_rule("/logout", "auth_logout_post", _do_logout, methods=["POST"])


__all__ = ["STRINGS", "escape", "page", "register", "safe_next", "t", "with_lang"]
