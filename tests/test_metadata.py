"""The metadata database on real SQLite and, where ECC_TEST_POSTGRES_URL is set, PostgreSQL."""

from __future__ import annotations

import os
import uuid

import pytest
from sqlalchemy import text

from ecc import catalogue, metadata

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
