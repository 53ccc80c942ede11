"""Issue 10, item 2, the pure part of single sign-on: the settings (checked at start, also by `ecc web`)
and the mapping of a verified ID token's claims to an ECC user name and role."""

from __future__ import annotations

import pytest

from ecc.auth import oidc_claims

ROLE_MAP = "ecc-admins=admin,ecc-ops=operator,ecc-viewers=viewer"


class _S:
    def __init__(self, **kw):
        self.__dict__.update({"oidc_issuer": "https://idp.example.com/realms/x", "oidc_client_id": "ecc",
                              "oidc_client_secret": "s", "oidc_role_map": ROLE_MAP, **kw})


def test_settings_are_checked_at_start():
    assert oidc_claims.from_settings(_S(oidc_issuer="")) is None
    # empty values (docker-compose passes ${VAR:-}) mean the defaults
    empty = oidc_claims.from_settings(_S(oidc_scopes="", oidc_username_claim="", oidc_roles_claim=""))
    assert (empty.scopes, empty.username_claim, empty.roles_claim) == ("openid profile email",
                                                                        "preferred_username", "groups")
    config = oidc_claims.from_settings(_S(oidc_scopes="profile"))
    assert config.scopes == "openid profile"
    assert config.discovery_url == "https://idp.example.com/realms/x/.well-known/openid-configuration"
    assert config.redirect_uri("http://10.0.0.5:8050/") == "http://10.0.0.5:8050/auth/oidc/callback"
    bad = [_S(oidc_issuer="http://idp.example.com"), _S(oidc_client_secret=""),
           _S(oidc_role_map="", oidc_default_role=""), _S(oidc_role_map="ecc-admins=root"),
           _S(oidc_default_role="superuser"), _S(oidc_redirect_base="http://ecc.example.com")]
    for settings in bad:
        with pytest.raises(oidc_claims.OidcConfigError):
            oidc_claims.from_settings(settings)


def test_claims_map_to_the_highest_role_or_the_default():
    config = oidc_claims.from_settings(_S(oidc_role_map="cn=ops=operator, admins = admin"))
    assert config.role_map == (("cn=ops", "operator"), ("admins", "admin"))
    config = oidc_claims.from_settings(_S())
    assert oidc_claims.role_for({"groups": ["ecc-viewers", "ecc-admins"]}, config) == "admin"
    assert oidc_claims.role_for({"groups": "ecc-ops"}, config) == "operator"
    assert oidc_claims.role_for({"groups": ["admin", "ecc-admins-old"]}, config) is None
    assert oidc_claims.role_for({}, config) is None
    with_default = oidc_claims.from_settings(_S(oidc_default_role="viewer"))
    assert oidc_claims.role_for({"groups": ["x"]}, with_default) == "viewer"
    assert oidc_claims.user_name_of({"preferred_username": "li.wei@corp"}, config) == "li.wei@corp"
    for claims in ({}, {"preferred_username": "李伟"}, {"preferred_username": ["a", "b"]}):
        with pytest.raises(ValueError):
            oidc_claims.user_name_of(claims, config)


def test_ecc_web_refuses_incomplete_sso_settings(monkeypatch, tmp_path, capsys):
    """Checked before gunicorn starts (else each worker would die on it at boot)."""
    from ecc.cli import main

    monkeypatch.setenv("ECC_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("ECC_PHONE_HASH_KEY", "a-test-key-that-is-long-enough-for-ecc-0123456789")
    for name in ("REDIS_URL", "ECC_REDIS_URL"):  # were the check to pass, `ecc web` stops at Redis,
        monkeypatch.delenv(name, raising=False)  # never execs gunicorn in the test's place
    monkeypatch.setenv("ECC_OIDC_ISSUER", "https://sso.example.com/realms/corp")
    monkeypatch.setenv("ECC_OIDC_CLIENT_ID", "ecc")
    monkeypatch.setenv("ECC_OIDC_CLIENT_SECRET", "s")
    assert main(["web"]) == 2  # no role map and no default role: nobody could sign in
    assert "ECC_OIDC_ROLE_MAP" in capsys.readouterr().err
    monkeypatch.setenv("ECC_OIDC_ISSUER", "http://sso.example.com")
    monkeypatch.setenv("ECC_OIDC_ROLE_MAP", "ecc-admins=admin")
    assert main(["web"]) == 2
    assert "https://" in capsys.readouterr().err
