"""A gunicorn worker that reads each request whole in its event loop before a thread serves it.

gunicorn 27's `gthread` worker hands a connection to a thread as soon as its first byte arrives; the
thread then reads the head and the body with blocking reads and no deadline. Eight clients sending a
body at 1 byte/s held all eight threads and the wall's refresh timed out (issue 6, finding 7).

`BufferingWorker` keeps gthread's event loop, thread pool and keep-alive handling, and changes one thing:
a connection stays in the event loop (non-blocking reads, no thread) until its request is complete —
head, and body by Content-Length or up to the last chunk — and only then goes to a thread, which parses
it from memory (or from a temporary file past 1 MiB). A slow client costs a file descriptor and a
buffer, never a thread, and is answered 408 when its deadline passes (mod_reqtimeout-style: 20 s for
the head, 20 s for the body extended by one second per 500 bytes received, 300 s at most). A body
announced over the limit is answered 413 from its Content-Length before a byte of it is read.

Because the request is whole before a thread is chosen, its path picks the thread pool: the screens
(Dash pages and their callbacks, assets, health) have a pool of their own beside the one serving /api/,
so 200 programs or managers querying the API at once cannot queue the wall's one-second refresh behind
them (issue 7: the wall's refresh p95 under 200 concurrent /kpis clients). A pool of its own is not
enough: the threads of one worker share one interpreter lock, so sixteen busy API threads stretched a
20-ms refresh ten-fold. `ScreensFirst` therefore holds an API request back while a screen's request is
being served (for at most `API_WAIT_S`): the screens are what people are looking at, an API client is a
program that can wait a few milliseconds more.

Once the app is loaded the worker freezes what it holds out of the garbage collector's reach
(`freeze_startup_objects`): a full collection over the loaded app paused every thread for ~80 ms.

Run it with `gunicorn --worker-class ecc.web.webworker.BufferingWorker` (what `ecc web` does).
"""

from __future__ import annotations

import contextlib
import gc
import json
import selectors
import tempfile
import threading
import time
from concurrent import futures
from functools import partial

from gunicorn.workers.gthread import ThreadWorker

HEAD_TIMEOUT_S = 20.0
BODY_TIMEOUT_S = 20.0
BODY_MIN_RATE = 500  # bytes/s that buy one more second of body deadline
MAX_READ_S = 300.0
MAX_HEAD_BYTES = 64 * 1024  # past this gunicorn's own parser answers (request line / header limits)
MAX_BODY_BYTES = 64 * 1024 * 1024  # the API's own limit (ecc.web.api.MAX_BODY_BYTES); no import cycle
SPOOL_BYTES = 1024 * 1024
API_WAIT_S = 0.05  # longest an API request waits for the screens (a wall refresh alone: 20-40 ms)
_RECV = 256 * 1024


def _answer(status: str, message: str) -> bytes:
    body = json.dumps({"error": message}).encode()
    return (f"HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n"
            f"Connection: close\r\n\r\n").encode() + body


class RequestReader:
    """Decides from the bytes received so far whether one HTTP/1.x request is complete (pure)."""

    def __init__(self, max_body: int = MAX_BODY_BYTES):
        self.max_body = max_body
        self.head = bytearray()
        self.head_done = False
        self.length: int | None = None  # Content-Length, or None for chunked / no body
        self.chunked = False
        self.body = 0  # body bytes seen
        self._chunk_left = 0  # data bytes (+2 for CRLF) still to skip in the current chunk
        self._line = bytearray()
        self._trailer = False
        self.done = False
        self.too_large = False

    def feed(self, data: bytes) -> None:
        if self.done:
            return
        if not self.head_done:
            self.head += data
            end = self.head.find(b"\r\n\r\n")
            if end < 0:
                if len(self.head) > MAX_HEAD_BYTES:
                    self.done = True  # let gunicorn's parser refuse it with its own message
                return
            self.head_done = True
            rest = bytes(self.head[end + 4:])
            self._parse_head(bytes(self.head[:end]))
            if self.done:
                return
            data = rest
        if self.chunked:
            self._feed_chunked(data)
        else:
            self.body += len(data)
            self.done = self.body >= (self.length or 0)
        if self.body > self.max_body:
            self.too_large = self.done = True

    def _parse_head(self, head: bytes) -> None:
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            name, value = name.strip().lower(), value.strip().lower()
            if name == b"transfer-encoding" and b"chunked" in value:
                self.chunked = True
            elif name == b"content-length":
                try:
                    self.length = int(value)
                except ValueError:
                    self.done = True  # malformed: gunicorn's parser answers 400
                    return
        if self.chunked:
            self.length = None
        elif self.length is not None and self.length > self.max_body:
            self.too_large = self.done = True
        elif not self.length:
            self.done = True

    def _feed_chunked(self, data: bytes) -> None:
        i = 0
        while i < len(data) and not self.done:
            if self._chunk_left:
                step = min(self._chunk_left, len(data) - i)
                self.body += max(0, min(step, self._chunk_left - 2))  # the data, not its CRLF
                self._chunk_left -= step
                i += step
                continue
            nl = data.find(b"\n", i)
            if nl < 0:
                self._line += data[i:]
                return
            line = bytes(self._line + data[i:nl]).strip()
            self._line.clear()
            i = nl + 1
            if self._trailer:
                self.done = not line  # the empty line after the trailers ends the request
                continue
            try:
                size = int(line.split(b";")[0] or b"0", 16)
            except ValueError:
                self.done = True  # malformed: gunicorn's parser answers 400
                return
            if size == 0:
                self._trailer = True
            else:
                self._chunk_left = size + 2  # the data and its CRLF

    def deadline(self, started: float) -> float:
        if not self.head_done:
            return started + HEAD_TIMEOUT_S
        return started + min(MAX_READ_S, HEAD_TIMEOUT_S + BODY_TIMEOUT_S + self.body / BODY_MIN_RATE)


def lane(head: bytes) -> str:
    """"api" for /api/ requests (health excepted: a probe must not wait behind queries), else "screen"."""
    line = head.split(b"\r\n", 1)[0].split(b" ")
    path = line[1] if len(line) > 1 else b"/"
    if path.startswith(b"/api/") and not path.startswith(b"/api/v1/health"):
        return "api"
    return "screen"


class ScreensFirst:
    """Screens before API requests within one worker: an API request starts only when no screen request
    is being served, or once it has waited `max_wait_s` (so that screens served without pause, 50 walls
    say, delay the API by that much and never stop it)."""

    def __init__(self, max_wait_s: float = API_WAIT_S):
        self.max_wait_s = max_wait_s
        self._screens = 0
        self._idle = threading.Condition()

    @contextlib.contextmanager
    def screen(self):
        with self._idle:
            self._screens += 1
        try:
            yield
        finally:
            with self._idle:
                self._screens -= 1
                if not self._screens:
                    self._idle.notify_all()

    def api_turn(self) -> bool:
        """Wait while a screen request is in progress, `max_wait_s` at most; whether the screens went idle."""
        deadline = time.monotonic() + self.max_wait_s
        with self._idle:
            while self._screens:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._idle.wait(left)
        return True


class PrefetchSocket:
    """The connection's socket, answering recv() from the buffered request first."""

    def __init__(self, sock):
        self._sock = sock
        self._spool = None

    def prefetch(self, spool) -> None:
        spool.seek(0)
        self._spool = spool

    def recv(self, size: int, *flags) -> bytes:
        if self._spool is not None:
            data = self._spool.read(size)
            if data:
                return data
            self._spool.close()
            self._spool = None
        return self._sock.recv(size, *flags)

    def close(self) -> None:
        if self._spool is not None:
            self._spool.close()
            self._spool = None
        self._sock.close()

    def __getattr__(self, name):
        return getattr(self._sock, name)


class _Pending:
    def __init__(self, conn, max_body: int):
        self.conn = conn
        self.reader = RequestReader(max_body)
        # Closed by BufferingWorker._drop, or by PrefetchSocket once the thread has read it.
        self.spool = tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES)  # noqa: SIM115
        self.started = time.monotonic()


def freeze_startup_objects() -> None:
    """Move what the worker holds once the app is loaded (Dash's layouts and registry, plotly's
    validators, SQLAlchemy's metadata: ~150,000 objects that live as long as the worker) out of the
    garbage collector's reach. A full collection walked them all, ~80 ms during which every thread of
    the worker stood still: a wall refresh caught in it was the 50-screen benchmark's p99 (docs/wall.md).
    Afterwards a full collection walks only what requests created since. Nothing is leaked: frozen
    objects are still freed by reference counting; only cycles among them are no longer collected."""
    gc.collect()
    gc.freeze()


class BufferingWorker(ThreadWorker):
    """gthread, with requests read whole in the event loop (see the module docstring)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.reading: dict[int, _Pending] = {}
        self.screen_pool: futures.ThreadPoolExecutor | None = None
        self.screens_first = ScreensFirst()

    def init_process(self):
        # The screens' lane: as many threads as the API's again, at least two.
        self.screen_pool = futures.ThreadPoolExecutor(max_workers=max(2, self.cfg.threads),
                                                      thread_name_prefix="ecc-screen")
        super().init_process()

    def enqueue_on_lane(self, conn, head: bytes) -> None:
        if lane(head) == "api":
            fs = self.tpool.submit(self._handle_api, conn)
        else:
            fs = self.screen_pool.submit(self._handle_screen, conn)
        fs.add_done_callback(lambda fut: self.method_queue.defer(self.finish_request, conn, fut))

    def _handle_api(self, conn):
        self.screens_first.api_turn()
        return self.handle(conn)

    def _handle_screen(self, conn):
        with self.screens_first.screen():
            return self.handle(conn)

    def accept(self, listener):
        try:
            sock, addr = listener.accept()
        except BlockingIOError:
            return
        except OSError:
            return
        self.nr_conns += 1
        from gunicorn.workers.gthread import TConn

        conn = TConn(self.cfg, sock, addr, listener.getsockname())
        if self.cfg.is_ssl:  # TLS ends at the proxy in every ECC deployment; keep gthread's way here
            sock.setblocking(True)
            self.enqueue_req(conn)
            return
        conn.sock = PrefetchSocket(conn.sock)
        self._start_reading(conn)

    def on_client_socket_readable(self, conn, client):
        """A kept-alive connection sends its next request: read that one whole too."""
        self.poller.unregister(client)
        self.keepalived_conns.remove(conn)
        if isinstance(conn.sock, PrefetchSocket):
            self._start_reading(conn)
        else:
            self.enqueue_req(conn)

    def _start_reading(self, conn) -> None:
        conn.sock.setblocking(False)
        pending = _Pending(conn, MAX_BODY_BYTES)
        self.reading[conn.sock.fileno()] = pending
        self.poller.register(conn.sock, selectors.EVENT_READ, partial(self._on_readable, pending))

    def _on_readable(self, pending: _Pending, _sock) -> None:
        conn = pending.conn
        try:
            data = conn.sock._sock.recv(_RECV)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        if not data:  # the client went away before its request was complete
            self._drop(pending)
            return
        pending.spool.write(data)
        pending.reader.feed(data)
        if not pending.reader.done:
            return
        self._stop_reading(pending)
        if pending.reader.too_large:
            self._refuse(pending, "413 Content Too Large",
                         f"body over {pending.reader.max_body} bytes; split the batch")
            return
        conn.sock.prefetch(pending.spool)
        conn.data_ready = True  # gthread's handle() must not wait for more bytes
        self.enqueue_on_lane(conn, bytes(pending.reader.head[:512]))

    def _stop_reading(self, pending: _Pending) -> None:
        sock = pending.conn.sock
        self.reading.pop(sock.fileno(), None)
        with contextlib.suppress(KeyError, ValueError, OSError):  # already unregistered: nothing to undo
            self.poller.unregister(sock)

    def _refuse(self, pending: _Pending, status: str, message: str) -> None:
        # A client that cannot take three hundred bytes has gone: closing is all that is left.
        with contextlib.suppress(OSError):
            pending.conn.sock._sock.send(_answer(status, message))
        self._drop(pending, registered=False)

    def _drop(self, pending: _Pending, registered: bool = True) -> None:
        if registered:
            self._stop_reading(pending)
        pending.spool.close()
        self.nr_conns -= 1
        pending.conn.close()

    def murder_pending(self):
        super().murder_pending()
        if not self.alive:  # stopping: a request still arriving will not be served by this worker
            for pending in list(self.reading.values()):
                self._drop(pending)
            return
        now = time.monotonic()
        for pending in [p for p in self.reading.values() if now > p.reader.deadline(p.started)]:
            self.log.warning("request from %s not complete after %.0f s; answered 408",
                             pending.conn.client, now - pending.started)
            self._stop_reading(pending)
            self._refuse(pending, "408 Request Timeout", "request not received in time")

    def handle_quit(self, sig, frame):
        if self.screen_pool is not None:
            self.screen_pool.shutdown(wait=False)
        super().handle_quit(sig, frame)

    def run(self):
        freeze_startup_objects()
        try:
            super().run()
        finally:
            for pending in list(self.reading.values()):
                self._drop(pending)
            if self.screen_pool is not None:
                self.screen_pool.shutdown(wait=False)
