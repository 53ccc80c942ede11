"""Issue 6, finding 8: `ecc web` checks its configuration before it starts and names what is wrong."""

from __future__ import annotations

import pytest

from ecc.cli import main, web_workers
from ecc.config import ConfigError, Settings


@pytest.fixture
def clean_env(monkeypatch, tmp_path):
    for name in ("REDIS_URL", "ECC_REDIS_URL", "ECC_CLICKHOUSE_DSN", "KAFKA_BOOTSTRAP_SERVERS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("ECC_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("ECC_PHONE_HASH_KEY", "a-test-key-that-is-long-enough-for-ecc-0123456789")
    return monkeypatch


def test_web_without_redis_says_so(clean_env, capsys):
    # Before: a bare "ValueError: Redis URL must specify one of the following schemes" from a worker.
    assert main(["web"]) == 2
    err = capsys.readouterr().err
    assert "needs Redis" in err and "REDIS_URL" in err


def test_web_refuses_several_workers_on_the_embedded_chdb(clean_env, capsys):
    # Before: the second worker died on chDB's lock (EmbeddedServer: BAD_ARGUMENTS).
    clean_env.setenv("REDIS_URL", "redis://127.0.0.1:6379/0")
    assert main(["web", "--workers", "2"]) == 2
    assert "only one process may open it" in capsys.readouterr().err


def test_web_workers_defaults():
    assert web_workers(Settings(data_dir="/tmp/x"), None) == 1
    assert web_workers(Settings(clickhouse_dsn="http://ch:8123/default"), None) == 2
    assert web_workers(Settings(clickhouse_dsn="http://ch:8123/default"), 6) == 6
    with pytest.raises(ConfigError, match="chdb"):
        web_workers(Settings(clickhouse_dsn="chdb:///var/ecc/chdb"), 3)
    with pytest.raises(ConfigError, match="at least 1"):
        web_workers(Settings(clickhouse_dsn="http://ch:8123/default"), 0)
