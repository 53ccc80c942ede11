"""The metadata database (SQLAlchemy): the channel catalogue admins edit; later alert rules and silences.

SQLite in the embedded stack, PostgreSQL in production; the same code for both.
"""

from __future__ import annotations

from sqlalchemy import Boolean, Engine, String, create_engine, select
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from ecc import catalogue


class Base(DeclarativeBase):
    pass


class Channel(Base):
    __tablename__ = "channels"

    code: Mapped[str] = mapped_column(String(32), primary_key=True)
    name_zh: Mapped[str] = mapped_column(String(64))
    name_en: Mapped[str] = mapped_column(String(64))
    active: Mapped[bool] = mapped_column(Boolean, default=True)


def connect(url: str) -> Engine:
    if url.startswith("sqlite:///"):
        from pathlib import Path

        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    return create_engine(url, pool_pre_ping=True)


def migrate(engine: Engine) -> None:
    """Create missing tables and seed the channel catalogue of docs/events.md (never overwrites)."""
    Base.metadata.create_all(engine)
    with Session(engine) as session, session.begin():
        known = set(session.scalars(select(Channel.code)))
        for code, (zh, en) in catalogue.CHANNELS.items():
            if code not in known:
                session.add(Channel(code=code, name_zh=zh, name_en=en))


def channel_names(engine: Engine) -> dict[str, tuple[str, str]]:
    with Session(engine) as session:
        return {c.code: (c.name_zh, c.name_en) for c in session.scalars(select(Channel))}


def upsert_channel(engine: Engine, code: str, name_zh: str, name_en: str, active: bool = True) -> None:
    with Session(engine) as session, session.begin():
        session.merge(Channel(code=code, name_zh=name_zh, name_en=name_en, active=active))
