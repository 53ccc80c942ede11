"""Single sign-on (OIDC), the pure part: the provider's settings, and who a verified ID token makes of
its holder (an ECC user name and role). No I/O: the flow itself is ecc.auth.oidc.

Roles come from one claim (ECC_OIDC_ROLES_CLAIM, a dotted path such as `groups` or Keycloak's
`realm_access.roles`) through an explicit map (ECC_OIDC_ROLE_MAP, `ecc-admins=admin,ecc-ops=operator`):
a provider's group is never taken as an ECC role by its name alone, since a group called "admin" in the
company directory says nothing about this application. The highest mapped role wins; with no match the
user gets ECC_OIDC_DEFAULT_ROLE, or is refused when that is empty.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from ecc.auth.mode import is_loopback_host
from ecc.auth.roles import ROLES, highest
from ecc.auth.users import UserError, check_name
from ecc.config import ConfigError

DISCOVERY_PATH = "/.well-known/openid-configuration"
CALLBACK_PATH = "/auth/oidc/callback"
DEFAULT_SCOPES = "openid profile email"  # also when ECC_OIDC_SCOPES is set but empty (a compose default)


class OidcConfigError(ConfigError):
    """The OIDC settings are incomplete or unsafe: the web app refuses to start with them."""


@dataclass(frozen=True)
class OidcConfig:
    issuer: str
    client_id: str
    client_secret: str
    scopes: str
    redirect_base: str  # public address of ECC; empty: the address the browser used
    username_claim: str
    roles_claim: str
    role_map: tuple[tuple[str, str], ...]  # (claim value, ECC role), in the order configured
    default_role: str | None

    @property
    def discovery_url(self) -> str:
        return self.issuer.rstrip("/") + DISCOVERY_PATH

    def redirect_uri(self, request_root: str) -> str:
        """The callback address registered at the provider: the configured public base, else this request's
        own scheme and host (behind a proxy those are the public ones where ECC_PROXY_HOPS trusts it)."""
        return (self.redirect_base or request_root).rstrip("/") + CALLBACK_PATH


def _https_or_loopback(name: str, url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme == "https" or (parts.scheme == "http" and is_loopback_host(parts.hostname or "")):
        return url
    raise OidcConfigError(f"{name}={url!r}: an https:// address (plain http only on a loopback address)")


def parse_role_map(raw: str) -> tuple[tuple[str, str], ...]:
    """`value=role,value=role` -> ((value, role), ...). A value may hold '=' (the last one separates)."""
    pairs = []
    for item in (raw or "").split(","):
        if not item.strip():
            continue
        value, sep, role = item.rpartition("=")
        value, role = value.strip(), role.strip()
        if not sep or not value or role not in ROLES:
            raise OidcConfigError(f"ECC_OIDC_ROLE_MAP entry {item.strip()!r}: write <claim value>=<role>, "
                                  f"the role one of {', '.join(ROLES)}")
        pairs.append((value, role))
    return tuple(pairs)


def from_settings(settings) -> OidcConfig | None:
    """The provider's settings, or None when single sign-on is not configured (ECC_OIDC_ISSUER empty)."""
    issuer = (getattr(settings, "oidc_issuer", "") or "").strip()
    if not issuer:
        return None
    _https_or_loopback("ECC_OIDC_ISSUER", issuer)
    client_id = (getattr(settings, "oidc_client_id", "") or "").strip()
    secret = getattr(settings, "oidc_client_secret", "") or ""
    if not client_id or not secret:
        raise OidcConfigError("ECC_OIDC_ISSUER is set: ECC_OIDC_CLIENT_ID and ECC_OIDC_CLIENT_SECRET are "
                              "needed too (the client registered at the provider)")
    redirect_base = (getattr(settings, "oidc_redirect_base", "") or "").strip()
    if redirect_base:
        _https_or_loopback("ECC_OIDC_REDIRECT_BASE", redirect_base)
    scopes = (getattr(settings, "oidc_scopes", "") or DEFAULT_SCOPES).split()
    if "openid" not in scopes:
        scopes.insert(0, "openid")  # without it the provider issues no ID token
    default_role = (getattr(settings, "oidc_default_role", "") or "").strip() or None
    if default_role is not None and default_role not in ROLES:
        raise OidcConfigError(f"ECC_OIDC_DEFAULT_ROLE={default_role!r}: one of {', '.join(ROLES)}, "
                              "or empty to refuse users no mapping matches")
    role_map = parse_role_map(getattr(settings, "oidc_role_map", ""))
    if not role_map and default_role is None:
        raise OidcConfigError("ECC_OIDC_ROLE_MAP and ECC_OIDC_DEFAULT_ROLE are both empty: nobody could "
                              "sign in; map the provider's groups to roles")
    return OidcConfig(
        issuer=issuer, client_id=client_id, client_secret=secret, scopes=" ".join(scopes),
        redirect_base=redirect_base,
        username_claim=(getattr(settings, "oidc_username_claim", "") or "preferred_username").strip(),
        roles_claim=(getattr(settings, "oidc_roles_claim", "") or "groups").strip(),
        role_map=role_map, default_role=default_role)


def claim_values(claims: dict, path: str) -> list[str]:
    """The strings at a dotted path of the claims: a list of them, or one string (then as one value)."""
    value: object = claims
    for part in path.split("."):
        if not isinstance(value, dict) or part not in value:
            return []
        value = value[part]
    if isinstance(value, str):
        return [value]
    if isinstance(value, list | tuple):
        return [v for v in value if isinstance(v, str)]
    return []


def role_for(claims: dict, config: OidcConfig) -> str | None:
    """The highest role the user's claim values map to; the default role when none does; None: refused."""
    values = set(claim_values(claims, config.roles_claim))
    mapped = [role for value, role in config.role_map if value in values]
    return highest(mapped) if mapped else config.default_role


def user_name_of(claims: dict, config: OidcConfig) -> str:
    """The ECC user name of the token's holder: the configured claim (a ValueError when it is missing or is
    not a valid user name: a user must be recognisable in lists and the audit trail)."""
    values = claim_values(claims, config.username_claim)
    if len(values) != 1:
        raise ValueError(f"the ID token has no {config.username_claim!r} claim")
    try:
        return check_name(values[0].strip())
    except UserError as exc:
        raise ValueError(f"{config.username_claim!r} is not usable as a user name: {exc}") from exc
