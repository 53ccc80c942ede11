"""Issue 10 on the command line: `ecc user …`, `ecc token …`, and a production start that refuses to run
open (`ecc web` and a hand-started gunicorn on 0.0.0.0 with auth off)."""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

import pytest

from ecc import metadata
from ecc.auth import audit, tokens, users
from ecc.cli import main

TESTS = Path(__file__).parent
PASSWORD = "correct horse battery"


@pytest.fixture
def env(monkeypatch, tmp_path):
    for name in ("REDIS_URL", "ECC_REDIS_URL", "ECC_METADATA_URL", "ECC_AUTH"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("ECC_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("ECC_PHONE_HASH_KEY", "a-test-key-that-is-long-enough-for-ecc-0123456789")
    return monkeypatch


def _engine(tmp_path):
    return metadata.connect(f"sqlite:///{tmp_path.resolve() / 'ecc.sqlite3'}")


def test_user_commands_read_the_password_from_stdin(env, tmp_path, capsys):
    env.setattr(sys, "stdin", io.StringIO(PASSWORD + "\n"))
    assert main(["user", "add", "alice", "--role", "admin"]) == 0
    engine = _engine(tmp_path)
    assert users.authenticate(engine, "alice", PASSWORD).role == "admin"
    with pytest.raises(SystemExit):  # there is no way to put a password in argv
        main(["user", "add", "bob", "--role", "viewer", "--password", PASSWORD])
    env.setattr(sys, "stdin", io.StringIO("short\n"))
    assert main(["user", "add", "bob", "--role", "viewer"]) == 1
    assert "at least 10" in capsys.readouterr().err
    assert main(["user", "disable", "alice"]) == 0
    assert users.authenticate(engine, "alice", PASSWORD) is None
    assert main(["user", "enable", "alice"]) == 0
    env.setattr(sys, "stdin", io.StringIO("another long secret\n"))
    assert main(["user", "reset", "alice"]) == 0
    assert users.authenticate(engine, "alice", "another long secret") is not None
    assert main(["user", "role", "alice", "operator"]) == 0
    capsys.readouterr()
    assert main(["user", "list"]) == 0
    listed = capsys.readouterr().out
    assert "alice" in listed and "operator" in listed and PASSWORD not in listed
    trail = [(e.action, e.actor_kind) for e in audit.entries(engine)]
    assert ("user.add", "cli") in trail and ("user.disable", "cli") in trail and ("user.role", "cli") in trail
    assert all(PASSWORD not in e.summary for e in audit.entries(engine))


def test_token_commands_show_the_secret_once(env, tmp_path, capsys):
    assert main(["token", "create", "--kind", "bearer", "--label", "crm", "--role", "operator",
                 "--scope", "events:write", "--rate-per-minute", "30"]) == 0
    secret = capsys.readouterr().out.strip()
    engine = _engine(tmp_path)
    found = tokens.find(engine, secret)
    assert found.scopes == ("events:write",) and found.rate_per_minute == 30 and found.role == "operator"
    assert main(["token", "list"]) == 0
    listed = capsys.readouterr().out
    assert found.id in listed and secret not in listed
    assert main(["token", "revoke", found.id]) == 0
    assert tokens.find(engine, secret) is None
    assert main(["token", "create", "--kind", "kiosk", "--label", "hall", "--role", "admin"]) == 0
    kiosk = tokens.find(engine, capsys.readouterr().out.split()[-1])
    assert kiosk.role == "viewer"  # a kiosk token is read-only whatever is asked


def test_web_refuses_to_run_open_on_the_network(env, capsys):
    env.setenv("ECC_AUTH", "off")
    env.setenv("REDIS_URL", "redis://127.0.0.1:6379/0")
    assert main(["web", "--host", "0.0.0.0"]) == 2
    err = capsys.readouterr().err
    assert "ECC_AUTH=off" in err and "loopback" in err


def test_gunicorn_config_refuses_auth_off_on_0000(env, tmp_path):
    env.setenv("ECC_AUTH", "off")
    proc = subprocess.run(
        [sys.executable, "-m", "gunicorn", "-c", "python:ecc.auth.gunicorn_conf", "--bind", "0.0.0.0:0",
         "--no-control-socket", "wsgi_probe:app"], cwd=TESTS, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and "refusing to start" in proc.stderr


def test_compose_runs_production_with_auth_on_and_no_default_password():
    import yaml

    raw = (TESTS.parent / "docker-compose.yml").read_text()
    compose = yaml.safe_load(raw)
    web = compose["services"]["web"]
    assert web["environment"]["ECC_AUTH"] == "on" and "0.0.0.0" in web["command"]
    # every password is required from the operator (${VAR:?...}), none has a default (${VAR:-...})
    for name in ("POSTGRES_PASSWORD", "CLICKHOUSE_PASSWORD", "ECC_PHONE_HASH_KEY"):
        assert f"${{{name}:?" in raw and f"${{{name}:-" not in raw, name
    assert "ECC_AUTH: \"off\"" not in raw
