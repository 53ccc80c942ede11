"""The admin page (/admin, admins only by ecc.auth.policy): users, kiosk and bearer tokens (with where
and when each was last used), and the audit trail. Server-rendered forms (POST, CSRF-checked by the
guard); a new token's secret is shown on the answer to its creation and never again.
"""

from __future__ import annotations

from datetime import datetime

from flask import Flask, g, redirect, request
from markupsafe import Markup, escape

from ecc.auth import audit, tokens, users
from ecc.auth.context import current
from ecc.auth.passwords import WeakPassword
from ecc.auth.roles import ROLES, SCOPES
from layouts.login import page, with_lang
from layouts.login import t as login_t

STRINGS: dict[str, tuple[str, str]] = {
    "admin.title": ("系统管理", "Administration"),
    "admin.users": ("用户", "Users"),
    "admin.tokens": ("令牌（大屏与程序）", "Tokens (screens and programs)"),
    "admin.audit": ("审计日志", "Audit trail"),
    "admin.add_user": ("新增用户", "Add user"),
    "admin.name": ("用户名", "Name"),
    "admin.role": ("角色", "Role"),
    "admin.source": ("来源", "Source"),
    "admin.active": ("状态", "State"),
    "admin.on": ("启用", "active"),
    "admin.off": ("停用", "disabled"),
    "admin.password": ("密码（至少 10 位）", "Password (10+ characters)"),
    "admin.last_login": ("最近登录", "Last login"),
    "admin.disable": ("停用", "Disable"),
    "admin.enable": ("启用", "Enable"),
    "admin.reset": ("重置密码", "Reset password"),
    "admin.set_role": ("改角色", "Set role"),
    "admin.create_token": ("新建令牌", "Create token"),
    "admin.kind": ("类型", "Kind"),
    "admin.kiosk": ("大屏（只读）", "Kiosk (read-only)"),
    "admin.bearer": ("程序（Bearer）", "Program (bearer)"),
    "admin.label": ("用途 / 位置", "Label / place"),
    "admin.scopes": ("权限范围", "Scopes"),
    "admin.rate": ("每分钟请求上限", "Requests per minute"),
    "admin.created": ("创建", "Created"),
    "admin.last_used": ("最近使用", "Last used"),
    "admin.revoke": ("吊销", "Revoke"),
    "admin.revoked": ("已吊销", "revoked"),
    "admin.secret_once": ("令牌只显示这一次，请立即保存：", "This token is shown once only; store it now:"),
    "admin.kiosk_url": ("大屏地址（打开一次后令牌存入 Cookie）：",
                        "Screen address (opened once, the token moves into a cookie):"),
    "admin.at": ("时间 (UTC)", "Time (UTC)"),
    "admin.actor": ("操作人", "Actor"),
    "admin.action": ("动作", "Action"),
    "admin.what": ("内容", "What"),
    "admin.done": ("已完成", "Done"),
    "admin.logout": ("退出登录", "Log out"),
}

_STYLE = """
.admin { padding: 28px 40px; }
.admin h1 { color: var(--cyan); letter-spacing: 2px; margin: 0 0 6px; }
.admin h2 { color: var(--text); border-left: 3px solid var(--cyan); padding-left: 10px; margin-top: 30px; }
.admin table { border-collapse: collapse; width: 100%; font-size: 14px; }
.admin th, .admin td { border-bottom: 1px solid var(--line); padding: 6px 8px; text-align: left;
  vertical-align: top; }
.admin th { color: var(--muted); font-weight: normal; }
.admin form.inline { display: inline-flex; gap: 6px; align-items: center; margin: 0 6px 0 0; }
.admin input, .admin select { padding: 5px 8px; color: var(--text); background: rgba(3, 8, 22, 0.7);
  border: 1px solid var(--line); border-radius: 3px; font-family: var(--font); }
.admin button { padding: 5px 12px; color: #031022; background: var(--cyan); border: 0; border-radius: 3px;
  cursor: pointer; font-family: var(--font); }
.admin .panel-form { display: flex; flex-wrap: wrap; gap: 10px; align-items: end; margin: 12px 0; }
.admin .panel-form label { display: flex; flex-direction: column; gap: 4px; color: var(--muted); }
.admin .secret { padding: 12px 16px; border: 1px solid var(--amber); color: var(--amber);
  background: rgba(251, 191, 36, 0.08); word-break: break-all; }
.admin .error { color: var(--red); }
.admin .muted { color: var(--muted); }
"""


def t(key: str, lang: str) -> str:
    zh, en = STRINGS[key]
    return en if lang == "en" else zh


def _lang() -> str:
    lang = request.values.get("lang", "zh")
    return lang if lang in ("zh", "en") else "zh"


def _when(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S") if moment else "—"


def _options(values, selected: str | None = None) -> Markup:
    return Markup("").join(Markup('<option value="{0}"{1}>{0}</option>').format(
        v, Markup(" selected") if v == selected else "") for v in values)


def _hidden(lang: str) -> Markup:
    return Markup('<input type="hidden" name="lang" value="{}">').format(lang)


def _users_html(lang: str) -> Markup:
    rows = []
    for u in users.list_all(current().engine):
        toggle = "enable" if not u.active else "disable"
        actions = Markup(
            '<form class="inline" method="post" action="/admin/users/{name}">{hidden}'
            '<input type="hidden" name="action" value="{toggle}">'
            '<button type="submit">{toggle_text}</button></form>'
            '<form class="inline" method="post" action="/admin/users/{name}">{hidden}'
            '<input type="hidden" name="action" value="role"><select name="role">{roles}</select>'
            '<button type="submit">{set_role}</button></form>'
            '<form class="inline" method="post" action="/admin/users/{name}">{hidden}'
            '<input type="hidden" name="action" value="reset">'
            '<input type="password" name="password" autocomplete="new-password" placeholder="{pw}">'
            '<button type="submit">{reset}</button></form>'
        ).format(name=u.name, hidden=_hidden(lang), toggle=toggle, toggle_text=t(f"admin.{toggle}", lang),
                 roles=_options(ROLES, u.role), set_role=t("admin.set_role", lang),
                 pw=t("admin.password", lang), reset=t("admin.reset", lang))
        state = t("admin.on" if u.active else "admin.off", lang)
        rows.append(Markup("<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>")
                    .format(u.name, u.role, u.source, state, _when(u.last_login_at), actions))
    head = Markup("<tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th></th></tr>").format(
        t("admin.name", lang), t("admin.role", lang), t("admin.source", lang), t("admin.active", lang),
        t("admin.last_login", lang))
    add = Markup(
        '<form class="panel-form" method="post" action="/admin/users" id="add-user">{hidden}'
        '<label>{name}<input name="name" required></label>'
        '<label>{role}<select name="role">{roles}</select></label>'
        '<label>{pw}<input type="password" name="password" autocomplete="new-password" required></label>'
        '<button type="submit">{add}</button></form>'
    ).format(hidden=_hidden(lang), name=t("admin.name", lang), role=t("admin.role", lang),
             roles=_options(ROLES, "viewer"), pw=t("admin.password", lang), add=t("admin.add_user", lang))
    return Markup('<table id="users-table">{}{}</table>{}').format(head, Markup("").join(rows), add)


def _tokens_html(lang: str) -> Markup:
    rows = []
    for tok in tokens.list_all(current().engine):
        revoke = Markup(
            '<form class="inline" method="post" action="/admin/tokens/{id}/revoke">{hidden}'
            '<button type="submit">{revoke}</button></form>'
        ).format(id=tok.id, hidden=_hidden(lang), revoke=t("admin.revoke", lang)) if tok.active else \
            Markup('<span class="muted">{} {}</span>').format(t("admin.revoked", lang), _when(tok.revoked_at))
        used = Markup("{}<br><span class='muted'>{} · {}</span>").format(
            _when(tok.last_used_at), tok.last_used_ip or "—", (tok.last_used_agent or "—")[:90])
        rows.append(Markup(
            '<tr data-token="{}"><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}<br>'
            '<span class="muted">{}</span></td><td class="last-used">{}</td><td>{}</td></tr>').format(
            tok.id, tok.id, tok.kind, tok.label, tok.role, " ".join(tok.scopes) or "—", _when(tok.created_at),
            tok.created_by, used, revoke))
    head = Markup("<tr><th>id</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th>"
                  "<th></th></tr>").format(*(t(f"admin.{k}", lang) for k in
                                             ("kind", "label", "role", "scopes", "created", "last_used")))
    scopes = Markup("").join(Markup('<label><input type="checkbox" name="scopes" value="{0}">{0}</label>')
                             .format(s) for s in SCOPES)
    create = Markup(
        '<form class="panel-form" method="post" action="/admin/tokens" id="create-token">{hidden}'
        '<label>{kind}<select name="kind"><option value="kiosk">{kiosk}</option>'
        '<option value="bearer">{bearer}</option></select></label>'
        '<label>{label}<input name="label" required></label>'
        '<label>{role}<select name="role">{roles}</select></label>{scopes}'
        '<label>{rate}<input name="rate_per_minute" type="number" min="1"></label>'
        '<button type="submit">{create}</button></form>'
    ).format(hidden=_hidden(lang), kind=t("admin.kind", lang), kiosk=t("admin.kiosk", lang),
             bearer=t("admin.bearer", lang), label=t("admin.label", lang), role=t("admin.role", lang),
             roles=_options(ROLES, "viewer"), scopes=scopes, rate=t("admin.rate", lang),
             create=t("admin.create_token", lang))
    return Markup('<table id="tokens-table">{}{}</table>{}').format(head, Markup("").join(rows), create)


def _audit_html(lang: str) -> Markup:
    rows = [Markup("<tr><td>{}</td><td>{}</td><td>{}</td><td>{} {}</td><td>{}</td><td>{}</td>"
                   "<td>{}</td></tr>").format(_when(e.at), e.actor, e.action, e.method, e.path,
                                             e.status if e.status is not None else "", e.ip, e.summary)
            for e in audit.entries(current().engine, 200)]
    head = Markup("<tr><th>{}</th><th>{}</th><th>{}</th><th>path</th><th>status</th><th>ip</th><th>{}</th>"
                  "</tr>").format(t("admin.at", lang), t("admin.actor", lang), t("admin.action", lang),
                                  t("admin.what", lang))
    return Markup('<table id="audit-table">{}{}</table>').format(head, Markup("").join(rows))


def render(lang: str, notice: Markup | str = "", status: int = 200):
    body = Markup(
        '<main class="admin"><h1>{title}</h1>'
        '<p><a href="{wall}">{back}</a> · <a href="{logout}">{out}</a></p>'
        '{notice}<h2>{users_h}</h2>{users}<h2>{tokens_h}</h2>{tokens}<h2>{audit_h}</h2>{audit}</main>'
    ).format(title=t("admin.title", lang), wall=with_lang("/", lang), back=login_t("nav.wall", lang),
             logout=with_lang("/logout", lang), out=t("admin.logout", lang), notice=notice,
             users_h=t("admin.users", lang), users=_users_html(lang), tokens_h=t("admin.tokens", lang),
             tokens=_tokens_html(lang), audit_h=t("admin.audit", lang), audit=_audit_html(lang))
    return page(t("admin.title", lang), body, lang, status, extra_style=_STYLE,
                switch_to=with_lang("/admin", "en" if lang != "en" else "zh"))


def _error(lang: str, message: str):
    return render(lang, Markup('<p class="error" id="admin-error">{}</p>').format(message), 400)


def _back(lang: str):
    return redirect(with_lang("/admin", lang), code=303)


def _add_user():
    lang = _lang()
    try:
        users.add(current().engine, request.form.get("name", "").strip(), request.form.get("role", ""),
                  request.form.get("password", ""))
    except (users.UserError, WeakPassword, ValueError) as exc:
        return _error(lang, str(exc))
    return _back(lang)


def _change_user(name: str):
    lang, engine = _lang(), current().engine
    action = request.form.get("action")
    try:
        if action == "disable":
            users.disable(engine, name)
        elif action == "enable":
            users.enable(engine, name)
        elif action == "role":
            users.set_role(engine, name, request.form.get("role", ""))
        elif action == "reset":
            users.reset_password(engine, name, request.form.get("password", ""))
        else:
            return _error(lang, f"unknown action {action!r}")
    except (users.UserError, WeakPassword, ValueError) as exc:
        return _error(lang, str(exc))
    return _back(lang)


def _create_token():
    lang = _lang()
    form = request.form
    kind = form.get("kind", "")
    try:
        rate = int(form["rate_per_minute"]) if form.get("rate_per_minute") else None
        view, secret = tokens.create(current().engine, kind, form.get("label", ""), g.identity.name,
                                     role="viewer" if kind == "kiosk" else form.get("role", "viewer"),
                                     scopes=tuple(form.getlist("scopes")) if kind == "bearer" else (),
                                     rate_per_minute=rate)
    except (tokens.TokenError, ValueError) as exc:
        return _error(lang, str(exc))
    notice = Markup('<div class="secret" id="new-token"><p>{}</p><code id="new-token-secret">{}</code>'
                    ).format(t("admin.secret_once", lang), secret)
    if view.kind == "kiosk":
        url = f"{request.host_url.rstrip('/')}/?kiosk=1&token={secret}"
        notice += Markup('<p>{}</p><code id="new-token-url">{}</code>').format(t("admin.kiosk_url", lang),
                                                                               url)
    return render(lang, notice + Markup("</div>"))


def _revoke_token(token_id: str):
    lang = _lang()
    try:
        tokens.revoke(current().engine, token_id)
    except tokens.TokenError as exc:
        return _error(lang, str(exc))
    return _back(lang)


def register(server: Flask) -> None:
    server.add_url_rule("/admin", "admin_page", lambda: render(_lang()), methods=["GET"])
    server.add_url_rule("/admin/users", "admin_add_user", _add_user, methods=["POST"])
    server.add_url_rule("/admin/users/<name>", "admin_change_user", _change_user, methods=["POST"])
    server.add_url_rule("/admin/tokens", "admin_create_token", _create_token, methods=["POST"])
    server.add_url_rule("/admin/tokens/<token_id>/revoke", "admin_revoke_token", _revoke_token,
                        methods=["POST"])


__all__ = ["STRINGS", "escape", "register", "render"]
