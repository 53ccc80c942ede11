"""The header's account part (layouts/account.py): shown to a logged-in browser only; never with auth off
(the anonymous loopback admin) or on a kiosk token's screen; always a control kiosk mode hides."""

from __future__ import annotations

from dash import html
from flask import Flask, g

from ecc.auth.roles import ANONYMOUS_ADMIN, Identity
from layouts.account import account, account_badge, signed_in
from layouts.chrome import HeaderIds, header
from layouts.i18n import LANGS


def _ids(component) -> set[str]:
    found = set()
    stack = [component]
    while stack:
        node = stack.pop()
        if isinstance(node, (list, tuple)):
            stack.extend(node)
        elif hasattr(node, "to_plotly_json"):
            if getattr(node, "id", None):
                found.add(node.id)
            stack.append(getattr(node, "children", None))
    return found


def test_badge_names_the_user_and_links_to_logout_in_both_languages():
    user = Identity(name="alice", role="operator")
    for lang in LANGS:
        (badge,) = account_badge(user, lang, "wall")
        assert "ecc-control" in badge.className  # hidden in kiosk mode (assets/wall.css)
        name, logout = badge.children
        assert name.children == "alice" and isinstance(logout, html.A)
        assert logout.href == ("/logout?lang=en" if lang == "en" else "/logout")
        assert ("operator" if lang == "en" else "运营") in badge.title
    assert account_badge(None, "zh", "wall") == []


def test_only_a_logged_in_browser_gets_it():
    app = Flask(__name__)
    kinds = {
        Identity(name="alice", role="viewer"): True,
        Identity(name="oidc-bob", role="admin", source="oidc"): True,
        ANONYMOUS_ADMIN: False,  # auth off
        Identity(name="hall screen", role="viewer", source="token", kind="kiosk"): False,
        Identity(name="crm", role="viewer", source="token", kind="bearer"): False,
    }
    for identity, shown in kinds.items():
        with app.test_request_context("/_dash-update-component"):
            g.identity = identity
            assert (signed_in() is identity) is shown
            assert ("wall-account" in _ids(header(HeaderIds("wall"), "zh", "wall", "/", "", _now()))) is shown
    with app.test_request_context("/"):  # no identity at all (the guard not installed)
        assert account("zh", "wall") == []
    assert account("zh", "wall") == []  # outside a request (pure view tests)


def _now():
    from datetime import datetime

    from ecc.timeutil import TZ
    return datetime(2026, 11, 30, 10, 0, tzinfo=TZ)
