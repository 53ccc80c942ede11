"""Kiosk and bearer tokens: made by an admin, shown once, kept as a SHA-256 digest, revocable.

A token is 32 random bytes (256 bits, `secrets.token_urlsafe`). Such a secret cannot be guessed or
brute-forced from its digest, so a fast unsalted SHA-256 is enough and lets a request find its token with
one indexed lookup; a slow salted hash (as for passwords, which people choose) would cost every request
tens of milliseconds and protect nothing more.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from ecc.auth.models import Token, utcnow
from ecc.auth.roles import SCOPES, check_role
from ecc.contract import pii

KINDS = ("kiosk", "bearer")
PREFIX = "ecc_"  # makes a leaked token easy to find in logs and code (secret scanners)
_AGENT_MAX = 255


class TokenError(ValueError):
    pass


@dataclass(frozen=True)
class TokenView:
    id: str
    kind: str
    label: str
    role: str
    scopes: tuple[str, ...]
    rate_per_minute: int | None
    created_by: str
    created_at: datetime
    revoked_at: datetime | None
    last_used_at: datetime | None
    last_used_ip: str | None
    last_used_agent: str | None

    @property
    def active(self) -> bool:
        return self.revoked_at is None


def _view(t: Token) -> TokenView:
    return TokenView(t.id, t.kind, t.label, t.role, tuple(t.scopes.split()), t.rate_per_minute, t.created_by,
                     t.created_at, t.revoked_at, t.last_used_at, t.last_used_ip, t.last_used_agent)


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def create(engine: Engine, kind: str, label: str, created_by: str, role: str = "viewer",
           scopes: tuple[str, ...] = (), rate_per_minute: int | None = None) -> tuple[TokenView, str]:
    """(the token's record, its secret): the secret exists only in this return value."""
    if kind not in KINDS:
        raise TokenError(f"kind must be one of {', '.join(KINDS)}")
    check_role(role)
    if kind == "kiosk" and (role != "viewer" or scopes):
        raise TokenError("a kiosk token is read-only: role viewer, no scopes")
    unknown = set(scopes) - set(SCOPES)
    if unknown:
        raise TokenError(f"unknown scope(s) {sorted(unknown)}; known: {', '.join(SCOPES)}")
    if rate_per_minute is not None and rate_per_minute < 1:
        raise TokenError("rate_per_minute must be at least 1")
    label = (label or "").strip()[:128]
    if not label:
        raise TokenError("a token needs a label (where it is used)")
    secret = PREFIX + secrets.token_urlsafe(32)
    with Session(engine) as s, s.begin():
        token = Token(id=secrets.token_hex(6), token_hash=digest(secret), kind=kind, label=label, role=role,
                      scopes=" ".join(sorted(set(scopes))), rate_per_minute=rate_per_minute,
                      created_by=created_by, created_at=utcnow())
        s.add(token)
        s.flush()
        return _view(token), secret


def find(engine: Engine, secret: str) -> TokenView | None:
    """The active token with this secret, or None (unknown or revoked)."""
    if not secret or not secret.startswith(PREFIX) or len(secret) > 100:
        return None
    with Session(engine) as s:
        token = s.scalar(select(Token).where(Token.token_hash == digest(secret)))
        return _view(token) if token and token.revoked_at is None else None


def list_all(engine: Engine) -> list[TokenView]:
    with Session(engine) as s:
        return [_view(t) for t in s.scalars(select(Token).order_by(Token.created_at.desc(), Token.id))]


def revoke(engine: Engine, token_id: str) -> TokenView:
    with Session(engine) as s, s.begin():
        token = s.get(Token, token_id)
        if token is None:
            raise TokenError(f"no token {token_id!r}")
        token.revoked_at = token.revoked_at or utcnow()
        s.flush()
        return _view(token)


def mark_used(engine: Engine, token_id: str, ip: str, agent: str) -> str | None:
    """Record where and when a token was last used; returns the previous IP (None the first time)."""
    with Session(engine) as s, s.begin():
        token = s.get(Token, token_id)
        if token is None:
            return None
        previous = token.last_used_ip
        token.last_used_at, token.last_used_ip = utcnow(), ip[:64]
        token.last_used_agent = pii.mask_text(agent)[:_AGENT_MAX]
        return previous
