"""Issue 6, finding 7: slow clients must not starve the web server (real gunicorn, real sockets).

Reproduction: with gunicorn's stock `gthread` worker, as many clients as there are threads sending a
body at 1 byte/s hold every thread and a plain GET gets no answer. With `ecc.web.webworker.BufferingWorker`
(what `ecc web` runs) the same GET answers at once, a body announced over the limit is refused before it
is sent, and a chunked body is served whole.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
import time
from concurrent import futures
from pathlib import Path

import pytest
import requests

from ecc.embedded import free_port, wait_for_port
from ecc.web.webworker import API_WAIT_S, MAX_BODY_BYTES, RequestReader, ScreensFirst, lane

THREADS = 2
TESTS = Path(__file__).resolve().parent


def start_server(worker_class: str, tmp_path: Path) -> tuple[subprocess.Popen, int]:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "--bind", f"127.0.0.1:{port}", "--workers", "1",
         "--worker-class", worker_class, "--threads", str(THREADS), "--timeout", "60",
         "--control-socket", str(tmp_path / "ctl.sock"), "--chdir", str(TESTS), "wsgi_probe:app"],
        stdout=subprocess.DEVNULL, stderr=(tmp_path / "gunicorn.log").open("wb"))
    wait_for_port(port, 20, proc, "gunicorn")
    return proc, port


@pytest.fixture
def server(request, tmp_path):
    proc, port = start_server(request.param, tmp_path)
    yield port
    proc.terminate()
    proc.wait(10)


def slow_post(port: int) -> socket.socket:
    """A client that announces 1,000 bytes and sends the head and one byte of body, then stalls."""
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\nx")
    return s


def ping_ok(port: int, timeout: float) -> bool:
    try:
        return requests.get(f"http://127.0.0.1:{port}/ping", timeout=timeout).text == "pong"
    except requests.RequestException:
        return False


@pytest.mark.parametrize("server, starved", [("gthread", True), ("ecc.web.webworker.BufferingWorker", False)],
                         indirect=["server"], ids=["stock-gthread", "buffering"])
def test_slow_bodies_and_the_thread_pool(server, starved):
    slow = [slow_post(server) for _ in range(THREADS + 2)]
    try:
        time.sleep(0.5)  # the stock worker has handed every slow connection to a thread by now
        assert ping_ok(server, timeout=3) is not starved
    finally:
        for s in slow:
            s.close()


@pytest.mark.parametrize("server, starved", [("gthread", True), ("ecc.web.webworker.BufferingWorker", False)],
                         indirect=["server"], ids=["stock-gthread", "buffering"])
def test_api_queries_do_not_queue_the_wall_refresh(server, starved):
    """Twice as many slow /api/ queries as threads are in flight; the wall's refresh (a Dash callback)
    still answers at once with the screens' own lane, and waits behind them without it."""
    with futures.ThreadPoolExecutor(THREADS * 2) as pool:
        slow = [pool.submit(requests.get, f"http://127.0.0.1:{server}/api/v1/slow", timeout=30)
                for _ in range(THREADS * 2)]
        time.sleep(0.5)
        started = time.monotonic()
        answer = requests.post(f"http://127.0.0.1:{server}/_dash-update-component", json={}, timeout=30)
        waited = time.monotonic() - started
        assert answer.text == "pong"
        assert all(f.result().text == "slow" for f in slow)
    assert (waited > 1.0) is starved, waited


@pytest.mark.parametrize("server", ["ecc.web.webworker.BufferingWorker"], indirect=True)
def test_an_api_request_waits_briefly_for_a_screen_in_progress(server):
    """Threads of one worker share one interpreter lock: an API request served while a wall refreshes
    slows the refresh down. It waits for the screen's request, but only API_WAIT_S: it is answered long
    before a screen request that takes seconds ends."""
    with futures.ThreadPoolExecutor(1) as pool:
        held = pool.submit(requests.get, f"http://127.0.0.1:{server}/_dash-hold", timeout=30)
        time.sleep(0.5)
        started = time.monotonic()
        answer = requests.get(f"http://127.0.0.1:{server}/api/v1/now", timeout=30)
        waited = time.monotonic() - started
        assert answer.text == "pong" and not held.done()
        assert held.result().text == "held"
    assert waited >= API_WAIT_S * 0.9, waited


def test_screens_first_waits_for_the_screens_and_no_longer_than_its_bound():
    gate = ScreensFirst(max_wait_s=0.2)
    assert gate.api_turn() is True  # no screen: at once
    entered, leave = threading.Event(), threading.Event()

    def screen():
        with gate.screen():
            entered.set()
            leave.wait(10)

    t = threading.Thread(target=screen)
    t.start()
    entered.wait(5)
    started = time.monotonic()
    assert gate.api_turn() is False  # the screen outlasted the bound
    assert time.monotonic() - started >= 0.19
    threading.Timer(0.05, leave.set).start()
    assert gate.api_turn() is True  # the screen ended within the bound
    t.join(5)
    assert gate.api_turn() is True


def test_lane_of_a_request():
    assert lane(b"GET /api/v1/kpis?channel=douyin HTTP/1.1\r\nHost: x") == "api"
    assert lane(b"POST /api/v1/events HTTP/1.1") == "api"
    assert lane(b"GET /api/v1/health HTTP/1.1") == "screen"
    assert lane(b"POST /_dash-update-component HTTP/1.1") == "screen"
    assert lane(b"GET /screen/funnel?kiosk=1 HTTP/1.1") == "screen"
    assert lane(b"garbage") == "screen"


@pytest.mark.parametrize("server", ["ecc.web.webworker.BufferingWorker"], indirect=True)
def test_body_over_the_limit_refused_from_content_length(server):
    s = socket.create_connection(("127.0.0.1", server), timeout=5)
    s.sendall(f"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: {400 * 2**20}\r\n\r\n".encode())
    started = time.monotonic()
    answer = s.recv(4096)
    s.close()
    assert answer.startswith(b"HTTP/1.1 413") and b"split the batch" in answer
    assert time.monotonic() - started < 2  # at once, not after reading 400 MB


@pytest.mark.parametrize("server", ["ecc.web.webworker.BufferingWorker"], indirect=True)
def test_bodies_served_whole_chunked_and_keepalive(server):
    with requests.Session() as http:
        body = b"y" * 3_000_000  # past the in-memory spool: read back from the temporary file
        assert http.post(f"http://127.0.0.1:{server}/echo", data=body).text == str(len(body))
        chunks = (b"z" * 1000 for _ in range(50))  # no Content-Length: chunked
        assert http.post(f"http://127.0.0.1:{server}/echo", data=chunks).text == "50000"
        for _ in range(5):  # the same kept-alive connection, request after request
            assert http.get(f"http://127.0.0.1:{server}/ping").text == "pong"


def test_reader_completes_on_length_chunks_and_limits():
    r = RequestReader()
    r.feed(b"GET / HTTP/1.1\r\nHost: x\r\n")
    assert not r.done
    r.feed(b"\r\n")
    assert r.done and not r.too_large
    r = RequestReader()
    r.feed(b"POST / HTTP/1.1\r\nContent-Length: 5\r\n\r\nab")
    assert not r.done
    r.feed(b"cde")
    assert r.done and r.body == 5
    r = RequestReader()
    pieces = (b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r", b"\nabc\r\n",
              b"1;x=y\r\nd\r\n0\r\n", b"Trailer: 1\r\n", b"\r\n")
    for piece in pieces:
        assert not r.done
        r.feed(piece)
    assert r.done and r.body == 4
    r = RequestReader(max_body=10)
    r.feed(b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nff\r\n" + b"a" * 20)
    assert r.done and r.too_large
    r = RequestReader()
    r.feed(f"POST / HTTP/1.1\r\nContent-Length: {MAX_BODY_BYTES + 1}\r\n\r\n".encode())
    assert r.done and r.too_large
