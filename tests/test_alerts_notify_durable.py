"""Deliveries and their retries survive a restart (the outbox, ecc/alerts/notify_outbox.py).

A real child process submits a group to a receiver that is down, makes its first attempt and is killed
(SIGKILL: no shutdown hook, nothing written on the way out) while its retry waits; a fresh web start (the
notify API's sweeper) finds the retry in the metadata database and makes it at its due time, the receiver
comes back, the delivery completes, and the log shows every attempt of both processes. Two processes that
resume the same outbox make each attempt once (the claim)."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import time
import uuid
from pathlib import Path

import pytest
from flask import Flask
from notify_receivers import BOX, KEY, Robots, alert, engine, log_of, settings_for  # noqa: F401

from ecc import metadata
from ecc.alerts import notify, notify_outbox, receivers
from ecc.alerts.receivers_api import EXTENSION, create_notify_api

ROOT = Path(__file__).resolve().parents[1]
CHILD = textwrap.dedent("""
    import json, sys, time
    from ecc import metadata
    from ecc.alerts import notify
    from ecc.config import Settings
    url, key, backoff, group = sys.argv[1:5]
    settings = Settings(data_dir="/nonexistent", secret_key=key, notify_backoff_s=float(backoff),
                        notify_attempts=4, notify_timeout_s=2.0)
    notify.submit(metadata.connect(url), settings, json.loads(group), "firing")
    time.sleep(120)  # the test kills this process while its retry waits
""")


@pytest.fixture(scope="module")
def robots():
    server = Robots()
    yield server
    server.close()


def _wait(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def test_a_retry_survives_a_killed_process_and_completes_after_a_restart(robots, tmp_path):
    url = f"sqlite:///{tmp_path / 'meta' / 'ecc.sqlite3'}"
    eng = metadata.connect(url)
    metadata.migrate(eng)
    path = f"/fail/2/{uuid.uuid4().hex}"  # down for two attempts, then back
    r = receivers.create_receiver(eng, {"kind": "webhook", "url": robots.url + path, "secret": "whsec-1"},
                                  BOX)
    backoff = 1.0
    child = subprocess.Popen([sys.executable, "-c", CHILD, url, KEY, str(backoff),
                              json.dumps([alert(71), alert(72, channel="wechat")])], cwd=ROOT)
    try:
        _wait(lambda: log_of(eng, r["id"]), 30, "the child's first attempt")
    finally:
        child.kill()  # SIGKILL while the retry waits on its timer
        child.wait(10)
    assert [(d["attempt"], d["status"]) for d in log_of(eng, r["id"])] == [(1, "retrying")] * 2
    assert notify_outbox.count(eng) == 1, "the retry is in the database, not only in the dead process"

    # the restart: a web process's notify API starts the sweeper, which finds the retry
    settings = settings_for(tmp_path, notify_backoff_s=backoff, notify_attempts=4)
    app = Flask("restarted")
    app.register_blueprint(create_notify_api(eng, settings, sweep_interval=0.3))
    try:
        _wait(lambda: any(d["status"] == "sent" for d in log_of(eng, r["id"])), 30, "the delivery")
        assert notify.wait_idle(10)
    finally:
        app.extensions[EXTENSION]["sweeper"].stop()
    rows = sorted(log_of(eng, r["id"]), key=lambda d: (d["attempt"], d["alert_id"]))
    assert [(d["attempt"], d["alert_id"], d["status"]) for d in rows] == [
        (1, 71, "retrying"), (1, 72, "retrying"), (2, 71, "retrying"), (2, 72, "retrying"),
        (3, 71, "sent"), (3, 72, "sent")]
    assert "HTTP 500" in rows[0]["error"] and rows[-1]["error"] is None
    got = robots.received(path.lstrip("/"))
    assert len(got) == 3, "one request per attempt, none twice"
    bodies = [json.loads(g["body"]) for g in got]
    assert len({b["group_id"] for b in bodies}) == 1, "the same message, re-rendered after the restart"
    assert [a["id"] for a in bodies[-1]["alerts"]] == [71, 72]
    assert all("x-ecc-signature" in g["headers"] for g in got), "signed with the secret read again"
    # the waits between attempts are the backoff, the first one as persisted by the dead process
    assert got[1]["at"] - got[0]["at"] >= backoff - 0.05
    assert got[2]["at"] - got[1]["at"] >= 2 * backoff - 0.05
    assert notify_outbox.count(eng) == 0, "done: the outbox is empty"


def test_two_processes_resuming_the_same_outbox_make_each_attempt_once(engine, robots, tmp_path):  # noqa: F811
    path = f"/fail/0/{uuid.uuid4().hex}"
    r = receivers.create_receiver(engine, {"kind": "webhook", "url": robots.url + path}, BOX)
    now = int(time.time() * 1000)
    ids = [notify_outbox.enqueue(engine, uuid.uuid4().hex, "firing", [alert(800 + i)], [r["id"]], now)[0]
           for i in range(12)]
    # a second engine on the same database stands for a second process (its own pool, its own timers)
    other = engine.execution_options()
    settings = settings_for(tmp_path)
    assert notify.resume(engine, settings) == 12
    assert notify.resume(other, settings) == 12
    assert notify.wait_idle(20)
    assert len(robots.received(path.lstrip("/"))) == 12
    rows = log_of(engine, r["id"])
    assert sorted(d["alert_id"] for d in rows) == list(range(800, 812))
    assert {(d["attempt"], d["status"]) for d in rows} == {(1, "sent")}
    assert notify_outbox.count(engine) == 0 and len(ids) == 12


def test_a_claim_is_exclusive_until_its_sender_is_presumed_dead(engine):  # noqa: F811
    now = 1_800_000_000_000
    [pid] = notify_outbox.enqueue(engine, "g" * 32, "firing", [alert(1)], [5], now)
    assert notify_outbox.claim(engine, pid, 2, now, 60_000) is None, "not the attempt due"
    assert notify_outbox.claim(engine, pid, 1, now - 5_000, 60_000) is None, "not due yet"
    job = notify_outbox.claim(engine, pid, 1, now, 60_000)
    assert job is not None and job.alerts[0]["id"] == 1 and job.receiver_id == 5
    assert notify_outbox.claim(engine, pid, 1, now + 1_000, 60_000) is None, "held by its sender"
    assert notify_outbox.due(engine, now + 10_000, now + 1_000) == []
    # the sender died: after the hold the attempt is anyone's again
    assert notify_outbox.due(engine, now + 61_000, now + 61_000) == [(pid, 1, now)]
    assert notify_outbox.claim(engine, pid, 1, now + 61_000, 60_000) is not None
