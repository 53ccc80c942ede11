"""Issue 9: `ecc demo` stops, saying why, when a child exits on a configuration error (CONFIG_EXIT),
instead of restarting it forever; a crash still restarts. Real processes; the last test runs a real stack
whose receivers' secrets were stored under a key that is now lost (docs/security.md)."""

from __future__ import annotations

import secrets
import signal
import sys

import pytest

from ecc import metadata
from ecc.alerts import receivers, receivers_secrets
from ecc.cli import main
from ecc.config import Settings
from ecc.embedded import CONFIG_EXIT, ChildConfigError, Stack, free_port, run_until_signalled


def test_a_child_that_exits_on_a_configuration_error_is_not_restarted(tmp_path):
    stack = Stack(Settings(data_dir=str(tmp_path)))
    try:
        child = stack.spawn("misconfigured", [sys.executable, "-c",
                                              "import sys; print('no key: set ECC_X'); sys.exit(2)"],
                            config_exit=CONFIG_EXIT)
        child.proc.wait(10)
        pid = child.proc.pid
        with pytest.raises(ChildConfigError, match="misconfigured stopped on a configuration error") as err:
            stack.supervise()
        assert "no key: set ECC_X" in str(err.value)  # the child's own words, from its log
        assert child.restart_due is None and child.proc.pid == pid and child.restarts == 0
    finally:
        stack.stop()


def test_the_same_exit_of_a_child_without_that_meaning_still_restarts(tmp_path):
    stack = Stack(Settings(data_dir=str(tmp_path)))
    try:
        crash = stack.spawn("crash", [sys.executable, "-c", "raise SystemExit(1)"], config_exit=CONFIG_EXIT)
        other = stack.spawn("other", [sys.executable, "-c", "raise SystemExit(2)"])  # not an ecc command
        crash.proc.wait(10)
        other.proc.wait(10)
        said = stack.supervise()
        assert len(said) == 2 and all("restarting in 0.5s" in line for line in said)
    finally:
        stack.stop()


def test_ecc_children_say_configuration_errors_with_config_exit(tmp_path, monkeypatch):
    monkeypatch.delenv("REDIS_URL", raising=False)
    monkeypatch.delenv("ECC_REDIS_URL", raising=False)
    stack = Stack(Settings(data_dir=str(tmp_path), phone_hash_key="k" * 40))
    try:
        web = stack.ecc("web", "web", "--port", str(free_port()))  # no Redis: a ConfigError
        assert web.proc.wait(60) == CONFIG_EXIT and web.misconfigured
        with pytest.raises(ChildConfigError, match="needs Redis"):
            stack.supervise()
    finally:
        stack.stop()


def _secret_stored_then_key_lost(data_dir) -> None:
    settings = Settings(data_dir=str(data_dir), secret_key=secrets.token_urlsafe(32))
    engine = metadata.connect(settings.metadata)
    metadata.migrate(engine)
    receivers.create_receiver(engine, {"kind": "webhook", "url": "http://127.0.0.1:9/hook",
                                       "secret": "whsec-of-a-lost-key"}, receivers_secrets.box_for(settings))
    engine.dispose()  # and the key is nowhere: not in the environment, no key file


def test_ecc_web_refuses_secrets_without_their_key_before_gunicorn(tmp_path, monkeypatch, capsys):
    _secret_stored_then_key_lost(tmp_path)
    for name in ("ECC_SECRET_KEY", "ECC_CLICKHOUSE_DSN", "ECC_METADATA_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("ECC_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("ECC_PHONE_HASH_KEY", "a-test-key-that-is-long-enough-for-ecc-0123456789")
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:1/0")  # never reached: the check comes first
    assert main(["web", "--port", str(free_port())]) == CONFIG_EXIT
    assert "have a secret and there is no key" in capsys.readouterr().err


@pytest.mark.e2e
def test_the_demo_stops_instead_of_restarting_a_web_that_cannot_open_the_secrets(tmp_path, monkeypatch):
    _secret_stored_then_key_lost(tmp_path)
    monkeypatch.delenv("ECC_SECRET_KEY", raising=False)
    stack = Stack(Settings(data_dir=str(tmp_path), phone_hash_key="e2e"), port=free_port(), simulate=False)
    handlers = signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)
    try:
        assert run_until_signalled(stack) == CONFIG_EXIT  # returns: no restart loop
    finally:
        signal.signal(signal.SIGINT, handlers[0])
        signal.signal(signal.SIGTERM, handlers[1])
    assert stack.children == []  # broker, Valkey and the worker were stopped too
    log = (tmp_path / "logs" / "web.log").read_text()
    assert log.count("have a secret and there is no key") == 1  # started once, never again


@pytest.mark.e2e
def test_a_web_restarted_after_its_key_was_lost_stops_the_demo(tmp_path):
    """The loop this replaces: the web crashes, comes back, refuses the secrets, is restarted, refuses..."""
    import time

    import requests

    settings = Settings(data_dir=str(tmp_path), phone_hash_key="e2e")
    receivers_secrets.resolve_key(settings, create=True)  # the key file `ecc demo` makes
    with Stack(settings, port=free_port(), simulate=False) as stack:
        made = requests.post(f"{stack.url}/api/v1/receivers", timeout=60, json={
            "kind": "webhook", "url": "http://127.0.0.1:9/hook", "secret": "whsec-sealed"})
        assert made.status_code == 201, made.text
        (tmp_path / receivers_secrets.KEY_FILE).unlink()  # the key is lost
        web = next(c for c in stack.children if c.name == "web")
        web.proc.send_signal(signal.SIGKILL)  # and the web crashes
        web.proc.wait(10)
        deadline = time.monotonic() + 120
        with pytest.raises(ChildConfigError, match="web stopped on a configuration error"):
            while time.monotonic() < deadline:
                stack.supervise()
                time.sleep(0.2)
        assert web.restarts == 1
