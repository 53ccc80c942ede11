"""The metadata database (SQLAlchemy): the channel catalogue, alert rules, receivers, users, audit.

SQLite in the embedded stack, PostgreSQL in production; the same code for both. The schema is the
Alembic migrations' (ecc/migrations/versions); the models of each concern live beside that concern and
share `Base`.
"""

from __future__ import annotations

from importlib import resources

from alembic import command
from alembic.config import Config
from sqlalchemy import Boolean, Engine, String, create_engine, inspect, select
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from ecc.contract import catalogue

FIRST_REVISION = "0001_channels"


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


def _alembic(connection) -> Config:
    config = Config()
    config.set_main_option("script_location", str(resources.files("ecc.migrations")))
    config.attributes["connection"] = connection
    return config


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest revision of every branch, then seed the channel catalogue of
    docs/events.md (never overwrites an admin's edit). Safe to run from several processes' start-up in a
    row; a database made before migrations existed (tables, no alembic_version) is stamped first."""
    with engine.begin() as conn:
        schema = conn.get_execution_options().get("schema_translate_map", {}).get(None)
        tables = set(inspect(conn).get_table_names(schema=schema))
        config = _alembic(conn)
        if "channels" in tables and "alembic_version" not in tables:
            command.stamp(config, FIRST_REVISION)
        command.upgrade(config, "heads")
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
