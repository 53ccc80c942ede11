"""The access-control tables of the metadata database (schema: migration 0004_auth).

Times are naive UTC (`utcnow()`): the same on SQLite and PostgreSQL.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Boolean, DateTime, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from ecc.metadata import Base


def utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


class User(Base):
    __tablename__ = "auth_users"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    role: Mapped[str] = mapped_column(String(16))
    source: Mapped[str] = mapped_column(String(16), default="local")  # local | oidc
    password_hash: Mapped[str | None] = mapped_column(String(255), nullable=True)  # None: no local login
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    # Sessions started before this instant are void: set by disable and password reset, so that they end
    # every session of the user in every worker without reaching Redis (the CLI may not).
    sessions_valid_after: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)


class Token(Base):
    """A kiosk token (a wall screen, always viewer) or a bearer token (a program: role and scopes).
    Only the SHA-256 of the secret is kept; `id` is the public handle shown in lists and the audit."""

    __tablename__ = "auth_tokens"

    id: Mapped[str] = mapped_column(String(16), primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True, index=True)
    kind: Mapped[str] = mapped_column(String(16))  # kiosk | bearer
    label: Mapped[str] = mapped_column(String(128))
    role: Mapped[str] = mapped_column(String(16))
    scopes: Mapped[str] = mapped_column(String(255), default="")  # space-separated
    rate_per_minute: Mapped[int | None] = mapped_column(Integer, nullable=True)  # ingest; None: default
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    last_used_ip: Mapped[str | None] = mapped_column(String(64), nullable=True)
    last_used_agent: Mapped[str | None] = mapped_column(String(255), nullable=True)


class AuditEntry(Base):
    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, index=True)
    actor: Mapped[str] = mapped_column(String(128))  # user name, "token:<id>", or "anonymous"
    actor_kind: Mapped[str] = mapped_column(String(16))  # session | kiosk | bearer | anonymous | none
    action: Mapped[str] = mapped_column(String(64))  # login, login.failed, logout, export, api, token.use …
    method: Mapped[str] = mapped_column(String(8), default="")
    path: Mapped[str] = mapped_column(String(255), default="")
    status: Mapped[int | None] = mapped_column(Integer, nullable=True)
    ip: Mapped[str] = mapped_column(String(64), default="")
    summary: Mapped[str] = mapped_column(Text, default="")  # masked (ecc.contract.pii), no secrets
