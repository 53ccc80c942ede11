"""The metadata database on real SQLite and, where ECC_TEST_POSTGRES_URL is set, PostgreSQL."""

from __future__ import annotations

import os
import uuid
from importlib import resources

import pytest
from sqlalchemy import inspect, text

from ecc import metadata
from ecc.contract import catalogue

URLS = ["sqlite"] + ([os.environ["ECC_TEST_POSTGRES_URL"]] if os.environ.get("ECC_TEST_POSTGRES_URL") else [])


@pytest.fixture(params=URLS)
def engine(request, tmp_path):
    if request.param == "sqlite":
        yield metadata.connect(f"sqlite:///{tmp_path / 'meta' / 'ecc.sqlite3'}")
        return
    # PostgreSQL: a schema of our own per test, dropped afterwards.
    schema = f"ecc_test_{uuid.uuid4().hex[:8]}"
    admin = metadata.connect(request.param)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))  # generated identifier, not input
    eng = metadata.connect(request.param).execution_options(schema_translate_map={None: schema})
    yield eng
    with admin.begin() as conn:
        conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))


def test_migrate_seeds_catalogue_once_and_keeps_edits(engine):
    metadata.migrate(engine)
    assert metadata.channel_names(engine) == {code: names for code, names in catalogue.CHANNELS.items()}
    metadata.upsert_channel(engine, "douyin", "抖音直播", "Douyin live")
    metadata.upsert_channel(engine, "xiaohongshu", "小红书", "Xiaohongshu")
    metadata.migrate(engine)  # idempotent: an admin's edit survives a restart
    names = metadata.channel_names(engine)
    assert names["douyin"] == ("抖音直播", "Douyin live")
    assert names["xiaohongshu"] == ("小红书", "Xiaohongshu")
    assert len(names) == len(catalogue.CHANNELS) + 1


def test_database_made_before_migrations_is_stamped_and_kept(engine):
    """An installation whose tables were created before Alembic keeps its channels and gets the rest."""
    with engine.begin() as conn:  # what create_all made before migrations existed
        metadata.Channel.__table__.create(conn)
        row = {"code": "bank_x", "name_zh": "某银行", "name_en": "Bank X", "active": True}
        conn.execute(metadata.Channel.__table__.insert().values(**row))
    metadata.migrate(engine)
    metadata.migrate(engine)
    names = metadata.channel_names(engine)
    assert names["bank_x"] == ("某银行", "Bank X")
    with engine.connect() as conn:
        schema = conn.get_execution_options().get("schema_translate_map", {}).get(None)
        assert "alembic_version" in inspect(conn).get_table_names(schema=schema)


def test_migrations_have_one_head():
    """A new migration has exactly one revision to follow (branches written side by side are merged)."""
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    config = Config()
    config.set_main_option("script_location", str(resources.files("ecc.migrations")))
    assert len(ScriptDirectory.from_config(config).get_heads()) == 1
