"""The phone hash key: never a default in the code; generated once by the demo, required in production."""

from __future__ import annotations

import os
import stat
from concurrent.futures import ThreadPoolExecutor

import pytest

from ecc import cli
from ecc.config import KEY_FILE, ConfigError, Settings, resolve_phone_key


def test_generated_once_private_and_reused(tmp_path):
    s = Settings(data_dir=str(tmp_path))
    first = resolve_phone_key(s, create=True)
    path = tmp_path / KEY_FILE
    assert len(first.phone_hash_key) >= 40
    assert stat.S_IMODE(path.stat().st_mode) == 0o600 and stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert resolve_phone_key(s, create=True).phone_hash_key == first.phone_hash_key  # a restart
    # `ecc ingest` next to the demo reads the same file
    assert resolve_phone_key(s, required=True).phone_hash_key == first.phone_hash_key
    assert Settings(data_dir=str(tmp_path / "other")).phone_hash_key == ""
    assert resolve_phone_key(Settings(data_dir=str(tmp_path / "other")), create=True).phone_hash_key \
        != first.phone_hash_key  # random, not derived from anything
    assert list(path.parent.iterdir()) == [path]  # no temporary file left


def test_starts_at_once_agree_on_one_key(tmp_path):
    s = Settings(data_dir=str(tmp_path))
    with ThreadPoolExecutor(8) as pool:
        keys = set(pool.map(lambda _: resolve_phone_key(s, create=True).phone_hash_key, range(16)))
    assert len(keys) == 1


def test_the_variable_wins_and_is_passed_to_children(tmp_path):
    resolve_phone_key(Settings(data_dir=str(tmp_path)), create=True)
    env = {"ECC_PHONE_HASH_KEY": "from-env", "ECC_DATA_DIR": str(tmp_path)}
    s = resolve_phone_key(Settings.from_env(env), required=True)
    assert s.phone_hash_key == "from-env" and s.to_env()["ECC_PHONE_HASH_KEY"] == "from-env"


def test_refused_without_a_key(tmp_path):
    with pytest.raises(ConfigError, match="ECC_PHONE_HASH_KEY"):
        resolve_phone_key(Settings(data_dir=str(tmp_path)), required=True)
    assert not (tmp_path / KEY_FILE).exists()  # a production command never invents one


def test_a_key_file_others_can_read_is_refused(tmp_path):
    path = tmp_path / KEY_FILE
    resolve_phone_key(Settings(data_dir=str(tmp_path)), create=True)
    os.chmod(path, 0o644)
    with pytest.raises(ConfigError, match="chmod 600"):
        resolve_phone_key(Settings(data_dir=str(tmp_path)), required=True)


@pytest.mark.parametrize("command", [["worker"], ["sink"], ["web"], ["ingest", "x.jsonl"], ["simulate"]])
def test_production_commands_refuse_to_start(command, tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("ECC_PHONE_HASH_KEY", raising=False)
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:1")
    assert cli.main(["--data-dir", str(tmp_path), *command]) == 2
    err = capsys.readouterr().err
    assert f"ecc {command[0]}: no phone hash key: set ECC_PHONE_HASH_KEY" in err


def test_a_file_simulation_needs_no_key(tmp_path, monkeypatch):
    monkeypatch.delenv("ECC_PHONE_HASH_KEY", raising=False)
    out = tmp_path / "day.jsonl"
    assert cli.main(["--data-dir", str(tmp_path), "simulate", "--out", str(out), "--duration", "5",
                     "--rate", "10"]) == 0
    assert out.exists() and not (tmp_path / KEY_FILE).exists()
