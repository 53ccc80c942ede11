"""A cap on concurrent Argon2 password checks per process (ecc/auth/hash_gate.py): a login flood waits for
a few slots and is then refused with 503 + Retry-After, instead of allocating 64 MiB per request at once.
Unit tests of the gate, and real logins (real Argon2, SQLite, Valkey) over a real threaded HTTP server."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from ecc import metadata
from ecc.auth import hash_gate, passwords, users
from ecc.live.live_store import LiveStore
from ecc.services import Services
from layouts.server import compose

PASSWORD = "correct horse battery"


@pytest.fixture(autouse=True)
def _default_gate_afterwards():
    yield
    hash_gate.configure(hash_gate.DEFAULT_SLOTS, hash_gate.DEFAULT_WAIT_S)


def test_gate_lets_slots_through_refuses_after_the_wait_and_frees_on_exit():
    gate = hash_gate.HashGate(slots=2, wait_s=0.2)
    held, release = threading.Barrier(3), threading.Event()

    def hold():
        with gate.slot():
            held.wait()
            release.wait(5)

    workers = [threading.Thread(target=hold) for _ in range(2)]
    for w in workers:
        w.start()
    held.wait()
    started = time.monotonic()
    with pytest.raises(hash_gate.Busy) as busy, gate.slot():
        pass
    assert time.monotonic() - started >= 0.19 and busy.value.retry_after_s == 1
    release.set()
    for w in workers:
        w.join()
    with gate.slot():  # free again
        assert gate.in_use == 1
    assert (gate.peak, gate.refused, gate.in_use) == (2, 1, 0)


def test_gate_frees_its_slot_when_the_check_fails():
    gate = hash_gate.HashGate(slots=1, wait_s=0.0)
    with pytest.raises(passwords.WeakPassword), gate.slot():
        passwords.check_strength("short")
    with gate.slot():
        pass


def test_argon2_checks_never_exceed_the_slots():
    gate = hash_gate.configure(2, 30.0)  # long wait: every check runs, never more than 2 at once
    stored = passwords.hash_password(PASSWORD)
    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(lambda i: passwords.verify(stored, PASSWORD if i % 2 else "wrong one!"),
                                range(8)))
    assert results == [bool(i % 2) for i in range(8)]
    assert gate.peak == 2 and gate.refused == 0


@pytest.fixture
def site(settings, tmp_path, redis_client, ch):
    from werkzeug.serving import make_server

    engine = metadata.connect(f"sqlite:///{tmp_path / 'meta' / 'ecc.sqlite3'}")
    metadata.migrate(engine)
    users.add(engine, "lena", "viewer", PASSWORD)
    settings = settings.with_(auth="on", login_hash_slots=1, login_hash_wait_s=0.3)
    app = compose(settings, Services(settings=settings, live=LiveStore(redis_client), ch=ch, meta=engine))
    server = make_server("127.0.0.1", 0, app.server, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()
    thread.join(5)


def _post(url: str, password: str, accept: str = "application/json") -> requests.Response:
    return requests.post(url + "/login", data={"username": "lena", "password": password},
                         headers={"Origin": url, "Accept": accept}, allow_redirects=False, timeout=30)


def test_login_waits_then_503_while_every_slot_is_taken(site):
    gate = hash_gate.gate()
    assert gate.slots == 1 and gate.wait_s == 0.3  # from the settings, at start-up
    with gate.slot():  # the one slot is busy (as with a long check): the next login waits, then 503
        resp = _post(site, PASSWORD)
        assert resp.status_code == 503 and int(resp.headers["Retry-After"]) >= 1
        assert resp.json()["error"] == "busy"
        page = _post(site, PASSWORD, accept="text/html,application/xhtml+xml,*/*;q=0.8")
        assert page.status_code == 503 and "登录请求过多" in page.text  # a browser gets the form back
    assert _post(site, PASSWORD).status_code == 303  # free again: the same login succeeds


def test_a_login_flood_runs_one_check_at_a_time_and_the_rest_get_503(site):
    gate = hash_gate.gate()
    with ThreadPoolExecutor(12) as pool:
        statuses = list(pool.map(lambda i: _post(site, f"wrong password {i}").status_code, range(12)))
    assert set(statuses) <= {401, 429, 503} and 401 in statuses
    assert gate.peak == 1  # never more than one 64 MiB check at once in this process
    assert statuses.count(503) == gate.refused
