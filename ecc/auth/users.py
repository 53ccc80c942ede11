"""Users in the metadata database: add, list, disable, reset, and the password check at login."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from ecc.auth import passwords
from ecc.auth.models import User, utcnow
from ecc.auth.roles import SOURCES, check_role

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")


class UserError(ValueError):
    pass


@dataclass(frozen=True)
class UserView:
    name: str
    role: str
    source: str
    active: bool
    created_at: datetime
    last_login_at: datetime | None
    sessions_valid_after: datetime


def _view(u: User) -> UserView:
    return UserView(u.name, u.role, u.source, u.active, u.created_at, u.last_login_at, u.sessions_valid_after)


def check_name(name: str) -> str:
    if not _NAME.match(name or ""):
        raise UserError("a user name is 1-64 letters, digits, '.', '_', '@' or '-', starting with a letter "
                        "or digit")
    return name


def add(engine: Engine, name: str, role: str, password: str) -> UserView:
    check_name(name)
    check_role(role)
    digest = passwords.hash_password(password)
    with Session(engine) as s, s.begin():
        if s.get(User, name) is not None:
            raise UserError(f"user {name!r} exists")
        user = User(name=name, role=role, source="local", password_hash=digest, active=True,
                    created_at=utcnow(), sessions_valid_after=utcnow())
        s.add(user)
        s.flush()
        return _view(user)


def upsert_external(engine: Engine, name: str, role: str, source: str) -> UserView:
    """A user of a single sign-on provider: made on first login, role refreshed from the claim every login.
    A disabled user stays disabled (an admin's decision outranks the provider's)."""
    check_role(role)
    if source not in SOURCES:
        raise UserError(f"source must be one of {SOURCES}")
    with Session(engine) as s, s.begin():
        user = s.get(User, name)
        if user is None:
            user = User(name=name, role=role, source=source, password_hash=None, active=True,
                        created_at=utcnow(), sessions_valid_after=utcnow())
            s.add(user)
        else:
            user.role, user.source = role, source
        s.flush()
        return _view(user)


def get(engine: Engine, name: str) -> UserView | None:
    with Session(engine) as s:
        user = s.get(User, name)
        return _view(user) if user else None


def list_all(engine: Engine) -> list[UserView]:
    with Session(engine) as s:
        return [_view(u) for u in s.scalars(select(User).order_by(User.name))]


def _change(engine: Engine, name: str, change) -> UserView:
    with Session(engine) as s, s.begin():
        user = s.get(User, name)
        if user is None:
            raise UserError(f"no user {name!r}")
        change(user)
        s.flush()
        return _view(user)


def disable(engine: Engine, name: str) -> UserView:
    """Disable and end every session of the user (in every worker: see User.sessions_valid_after)."""
    def off(user: User) -> None:
        user.active = False
        user.sessions_valid_after = utcnow()
    return _change(engine, name, off)


def enable(engine: Engine, name: str) -> UserView:
    return _change(engine, name, lambda user: setattr(user, "active", True))


def set_role(engine: Engine, name: str, role: str) -> UserView:
    check_role(role)
    return _change(engine, name, lambda user: setattr(user, "role", role))


def reset_password(engine: Engine, name: str, password: str) -> UserView:
    """A new password; sessions started with the old one end."""
    digest = passwords.hash_password(password)

    def reset(user: User) -> None:
        user.password_hash = digest
        user.source = "local"
        user.sessions_valid_after = utcnow()
    return _change(engine, name, reset)


def authenticate(engine: Engine, name: str, password: str) -> UserView | None:
    """The active local user with this password, or None (same work whether or not the name exists)."""
    with Session(engine) as s:  # no transaction or connection held while the hash is checked (or waits)
        user = s.get(User, name) if name else None
        stored = user.password_hash if user else None
    if not passwords.verify(stored, password):  # may raise hash_gate.Busy
        return None
    with Session(engine) as s, s.begin():
        user = s.get(User, name)
        if not (user and user.active and user.password_hash == stored):
            return None
        user.password_hash = passwords.rehashed(user.password_hash, password) or user.password_hash
        user.last_login_at = utcnow()
        s.flush()
        return _view(user)
