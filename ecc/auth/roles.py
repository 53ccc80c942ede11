"""Roles from least to most (contract, Access): viewer < operator < admin, and who a request is."""

from __future__ import annotations

from dataclasses import dataclass, field

ROLES = ("viewer", "operator", "admin")
PUBLIC = "public"  # the policy's level below viewer: no credentials needed
_RANK = {PUBLIC: -1, **{role: i for i, role in enumerate(ROLES)}}
SOURCES = ("local", "oidc")  # where a user comes from: a password here, or a single sign-on provider
SCOPES = ("events:write",)  # what a bearer token may do beyond its role


def check_role(role: str) -> str:
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}, got {role!r}")
    return role


def allows(role: str | None, needed: str) -> bool:
    """Whether `role` (None: not authenticated) may do what needs `needed` (a role or PUBLIC)."""
    if needed == PUBLIC:
        return True
    return role is not None and _RANK[role] >= _RANK[needed]


def highest(levels) -> str:
    """The strictest of several levels (PUBLIC when there are none)."""
    return max(levels, key=_RANK.__getitem__, default=PUBLIC)


@dataclass(frozen=True)
class Identity:
    """Who made the request: `flask.g.identity`. `kind` is how they proved it: session (a browser that
    logged in), kiosk (a wall screen's token cookie), bearer (a program), anonymous (auth off)."""

    name: str
    role: str
    source: str = "local"  # local | oidc (users); token (kiosk and bearer tokens); none (auth off)
    kind: str = "session"
    scopes: frozenset[str] = field(default_factory=frozenset)
    token_id: str | None = None

    def may(self, needed: str) -> bool:
        return allows(self.role, needed)


ANONYMOUS_ADMIN = Identity(name="anonymous", role="admin", source="none", kind="anonymous")
