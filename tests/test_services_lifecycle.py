"""Issue 9: only a serving web process runs the alert evaluator and the outbox sweeper. Building the
services (a test, a benchmark, a command) starts neither; a gunicorn worker of `ecc web` starts both
once it has loaded the app (ecc/auth/gunicorn_conf.py post_worker_init). Real Valkey, chDB, gunicorn."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time

from ecc.embedded import free_port, wait_for_port
from ecc.services import Services

BACKGROUND = {"ecc-alerts", "ecc-notify-sweeper"}


def _new_threads(before: set[threading.Thread]) -> set[str]:
    return {t.name for t in threading.enumerate() if t not in before and t.is_alive()}


def test_building_services_starts_no_background_thread_and_start_background_does(settings, chdb_client,
                                                                                   valkey_url):
    before = set(threading.enumerate())
    services = Services.build(settings.with_(redis_url=valkey_url, clickhouse_dsn=f"chdb://{chdb_client.path}"))
    try:
        assert services.alerts is None and services.sweeper is None
        assert not _new_threads(before) & BACKGROUND
        services.start_background(sweep_interval=0.2)
        assert _new_threads(before) >= BACKGROUND
        evaluator, sweeper = services.alerts, services.sweeper
        services.start_background()  # twice is once
        assert (services.alerts, services.sweeper) == (evaluator, sweeper)
        assert sum(t.name == "ecc-alerts" for t in threading.enumerate() if t not in before) == 1
    finally:
        services.close()
        services.ch.close()
    evaluator.join(10)
    sweeper.join(10)
    assert not evaluator.is_alive() and not sweeper.is_alive()


def test_a_gunicorn_worker_of_ecc_web_starts_them(tmp_path, valkey_url):
    port = free_port()
    env = {**os.environ, "ECC_DATA_DIR": str(tmp_path), "REDIS_URL": valkey_url,
           "ECC_PHONE_HASH_KEY": "a-test-key-that-is-long-enough-for-ecc-0123456789", "ECC_LOG_LEVEL": "INFO"}
    env.pop("ECC_CLICKHOUSE_DSN", None)  # the web's own chDB under tmp_path
    log = tmp_path / "web.log"
    with log.open("wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "ecc.cli", "web", "--port", str(port)], env=env,
                                stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        wait_for_port(port, 90, proc, "ecc web")
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and "outbox sweeper started" not in log.read_text():
            time.sleep(0.2)
        text = log.read_text()
        assert "alert evaluator started" in text and "notification outbox sweeper started" in text, text
        assert text.count("alert evaluator started") == 1  # one worker, one evaluator
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(30)
