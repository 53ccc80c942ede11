"""The page a login sends the browser to afterwards (`next`): only a path on this site, never another site.
One rule (ecc.auth.redirects.safe_next) for the password login and single sign-on; hostile values from a
table, and one through the real /login over HTTP (real SQLite, real Valkey)."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest

from ecc import metadata
from ecc.auth import oidc, users
from ecc.auth.redirects import safe_next
from ecc.live.live_store import LiveStore
from ecc.services import Services
from layouts import login as login_page
from layouts.server import compose

PASSWORD = "correct horse battery"
ORIGIN = {"Origin": "http://localhost"}

HOSTILE = [
    None, "", "x", "evil.example/x",                # not a path
    "//evil.example", "//evil.example/x",            # protocol-relative: another host
    "/\\evil.example", "\\\\evil.example", "/x\\..\\\\evil.example",  # browsers read \ as /
    "/\t/evil.example", "/\n/evil.example", "/\r\n/evil.example", "/ /evil.example",  # dropped by browsers
    "/\x00/evil.example", "/\x0b/evil.example", "/\x7f/evil.example", "/\x85/evil.example",
    "https://evil.example", "http:/evil.example", "https:evil.example", "javascript:alert(1)",
    "JAVASCRIPT:alert(1)", "data:text/html,<script>alert(1)</script>", " /x", "\t//evil.example",
    "/\u200b/evil.example", "/\u202e/evil.example", "/\ufeff/evil.example",  # invisible / direction marks
    "/\u3000/evil.example", "/\u2028/evil.example",  # Unicode spaces and line separators
    "/" + "a" * 3000,                                # absurdly long
]

KEPT = [
    ("/", "/"), ("/drill", "/drill"), ("/drill?channel=wechat&lang=en", "/drill?channel=wechat&lang=en"),
    ("/screens/regions#top", "/screens/regions#top"),
    ("/%09/evil.example", "/%09/evil.example"),      # an escape a browser does not decode in a Location
    ("/%2F%2Fevil.example", "/%2F%2Fevil.example"),
    ("/.//evil.example", "/.//evil.example"),        # dot segments resolve in the path, never the host
    ("/\uff0fevil.example", "/%EF%BC%8Fevil.example"),  # fullwidth solidus: encoded, a plain segment
    ("/渠道", "/%E6%B8%A0%E9%81%93"),
]


@pytest.mark.parametrize("value", HOSTILE)
def test_hostile_next_goes_home(value):
    assert safe_next(value) == "/"


@pytest.mark.parametrize(("value", "expected"), KEPT)
def test_a_path_on_this_site_is_kept(value, expected):
    kept = safe_next(value)
    assert kept == expected
    parts = urlsplit(kept)
    assert kept.startswith("/") and not kept.startswith("//") and not parts.scheme and not parts.netloc


def test_login_and_single_sign_on_share_the_rule():
    assert login_page.safe_next is safe_next and oidc.safe_next is safe_next


@pytest.fixture
def app(settings, tmp_path, redis_client, ch):
    engine = metadata.connect(f"sqlite:///{tmp_path / 'meta' / 'ecc.sqlite3'}")
    metadata.migrate(engine)
    users.add(engine, "nora", "viewer", PASSWORD)
    settings = settings.with_(auth="on")
    return compose(settings, Services(settings=settings, live=LiveStore(redis_client), ch=ch, meta=engine))


@pytest.mark.parametrize("nxt", ["/\t/evil.example", "//evil.example", "/\\evil.example",
                                 "https://evil.example/", "/\u200b/evil.example"])
def test_login_over_http_never_redirects_off_site(app, nxt):
    client = app.server.test_client()
    form = client.get("/login", query_string={"next": nxt}).get_data(as_text=True)
    assert "evil.example" not in form  # the hidden field already holds "/"
    resp = client.post("/login", data={"username": "nora", "password": PASSWORD, "next": nxt}, headers=ORIGIN)
    assert resp.status_code == 303 and resp.headers["Location"] == "/"
    # signed in, /login?next= redirects straight away: the same rule
    again = client.get("/login", query_string={"next": nxt})
    assert again.status_code == 302 and again.headers["Location"] == "/"


def test_login_over_http_keeps_a_path_on_this_site(app):
    client = app.server.test_client()
    resp = client.post("/login", data={"username": "nora", "password": PASSWORD,
                                       "next": "/drill?channel=wechat"}, headers=ORIGIN)
    assert resp.status_code == 303 and resp.headers["Location"] == "/drill?channel=wechat"
