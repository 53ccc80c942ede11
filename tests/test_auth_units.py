"""Issue 10, pure parts: the role order, the policy's keys, the CSRF rule, the auth-mode rule, audit
summaries, password hashing and token digests."""

from __future__ import annotations

import hashlib

import pytest
from werkzeug.datastructures import Headers

from ecc.auth import audit, origin, passwords, policy, tokens
from ecc.auth.mode import AuthModeError, bind_host, enabled_in_app, is_loopback_host, resolve
from ecc.auth.roles import PUBLIC, allows, highest


def test_roles_order():
    assert allows("admin", "operator") and allows("operator", "operator") and not allows("viewer", "operator")
    assert allows(None, PUBLIC) and not allows(None, "viewer")
    assert highest(["viewer", "admin", "operator"]) == "admin" and highest([]) == PUBLIC


def test_policy_keys_ignore_converter_names():
    assert policy.route_rule("POST", "/api/v1/alerts/<int:alert_id>/ack").level == "operator"
    assert policy.route_rule("POST", "/api/v1/alerts/<id>/ack").level == "operator"
    assert policy.route_rule("HEAD", "/api/v1/health").level == PUBLIC
    assert policy.route_rule("GET", "/api/v1/never-heard-of") is None
    assert policy.route_rule("POST", "/api/v1/events").scope == "events:write"
    assert policy.route_rule("GET", "/api/v1/funnel/dropped").audit == "export"


def test_callback_output_keys():
    assert policy.output_ids("page-content.children") == ["page-content"]
    assert policy.output_ids("..ap-op-version.data...ap-op-msg.children..") == ["ap-op-version", "ap-op-msg"]
    assert policy.output_ids('..{"name":"x","type":"ecc-fig"}.figure..') == ["ecc-fig"]
    assert policy.callback_rule("..ap-op-version.data...ap-op-msg.children..") == ("operator", [])
    assert policy.callback_rule("..wall-clock.children...admin-x.data..") == ("admin", [])
    assert policy.callback_rule("mystery.children") == ("admin", ["mystery"])  # fail closed


def _reason(method="POST", cookie=True, **headers):
    return origin.cross_site_reason(method, Headers(headers), "ecc.local:8050", "http",
                                    frozenset({"https://ecc.example.com"}), cookie)


def test_cross_site_rule():
    assert _reason("GET", **{"Origin": "https://evil.example"}) is None  # reads are not state changes
    assert _reason(**{"Sec-Fetch-Site": "same-origin"}) is None
    assert _reason(**{"Sec-Fetch-Site": "cross-site", "Origin": "https://evil.example"})
    assert _reason(**{"Sec-Fetch-Site": "same-site"})  # a sibling subdomain is another site's page
    assert _reason(Origin="http://ecc.local:8050") is None
    assert _reason(Origin="https://ecc.example.com") is None  # the proxy's public origin
    assert _reason(Origin="null")
    assert _reason()  # a cookie and no header at all
    assert _reason(cookie=False) is None  # a program without cookies (bearer, or auth off)


def test_auth_mode_rule():
    assert resolve("auto", ["127.0.0.1"]) is False and resolve("auto", ["0.0.0.0"]) is True
    assert resolve("on", ["127.0.0.1"]) is True and resolve("off", ["::1", "localhost"]) is False
    for host in ("0.0.0.0", "::", "10.0.0.5", "ecc.example.com", "unix:/run/ecc.sock"):
        with pytest.raises(AuthModeError):
            resolve("off", [host])
    with pytest.raises(AuthModeError):
        resolve("maybe", ["127.0.0.1"])
    assert [bind_host(b) for b in ("0.0.0.0:8050", "[::1]:80", "unix:/x")] == ["0.0.0.0", "::1", "unix:/x"]
    assert is_loopback_host("127.8.9.1") and not is_loopback_host("192.168.1.1")
    assert enabled_in_app("on") and not enabled_in_app("auto")


def test_audit_summary_keeps_names_hides_secrets_and_phones():
    text = audit.summary_of({"step": "3", "token": "ecc_abc"},
                            {"kind": "wecom", "url": "https://x/?key=K", "secret": "S", "password": "P",
                             "label": "call 13812341234", "matchers": {"channel": "douyin", "secret": "S"}})
    assert '"kind": "wecom"' in text and '"step": "3"' in text and '"channel": "douyin"' in text
    for leak in ("ecc_abc", "key=K", '"S"', '"P"', "13812341234"):
        assert leak not in text
    assert "138****1234" in text and '"url": "…"' in text


def test_password_hash_is_argon2id_and_checks_strength():
    digest = passwords.hash_password("correct horse battery")
    assert digest.startswith("$argon2id$")
    assert passwords.verify(digest, "correct horse battery") and not passwords.verify(digest, "wrong")
    assert not passwords.verify(None, "anything")
    with pytest.raises(passwords.WeakPassword):
        passwords.hash_password("short")


def test_token_digest_is_sha256_hex():
    # echo -n ecc_x | sha256sum
    assert tokens.digest("ecc_x") == hashlib.sha256(b"ecc_x").hexdigest()
    assert len(tokens.digest("ecc_x")) == 64
