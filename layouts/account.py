"""Who is signed in, in the screens' header: the user's name and a logout link.

Shown only to a browser that logged in (a password or single sign-on session): not with auth off (the
anonymous loopback admin), not on a kiosk token's screen (nobody to log out; the token stays), and hidden
in kiosk mode like every other control (class ecc-control, assets/kiosk.js). Read from `flask.g.identity`,
which the access guard (ecc/auth/guard.py) sets for the Dash request that builds the page.
"""

from __future__ import annotations

from dash import html
from flask import g, has_request_context

from ecc.auth.roles import Identity
from layouts.i18n import DEFAULT_LANG

STRINGS: dict[str, tuple[str, str]] = {
    "account.logout": ("退出", "Log out"),
    "account.signed_in": ("当前用户：{name}（{role}）", "Signed in as {name} ({role})"),
    "role.viewer": ("查看者", "viewer"),
    "role.operator": ("运营", "operator"),
    "role.admin": ("管理员", "admin"),
}


def t(key: str, lang: str, **params: str) -> str:
    zh, en = STRINGS[key]
    return (en if lang == "en" else zh).format(**params)


def signed_in() -> Identity | None:
    """The identity of the request building the page when it is a logged-in browser, else None."""
    if not has_request_context():
        return None
    identity = g.get("identity")
    return identity if identity is not None and identity.kind == "session" else None


def account_badge(identity: Identity | None, lang: str, prefix: str) -> list:
    """The header's account part (a list: empty when nobody logged in); pure, for tests."""
    if identity is None:
        return []
    role = t(f"role.{identity.role}", lang)
    logout = "/logout" + ("" if lang == DEFAULT_LANG else f"?lang={lang}")
    return [html.Div(className="account ecc-control", id=f"{prefix}-account",
                     title=t("account.signed_in", lang, name=identity.name, role=role), children=[
                         html.Span(identity.name, className="account-name", id=f"{prefix}-account-name"),
                         html.A(t("account.logout", lang), href=logout, className="account-logout",
                                id=f"{prefix}-logout"),
                     ])]


def account(lang: str, prefix: str) -> list:
    return account_badge(signed_in(), lang, prefix)


__all__ = ["STRINGS", "account", "account_badge", "signed_in"]
