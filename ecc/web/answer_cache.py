"""A short-lived shared cache of drill-down answers, with single flight.

Every ClickHouse query of a web process goes through one lock (chDB serves one query at a time), so 200
clients asking for the same `/kpis` queued for 14 s. Here concurrent identical requests wait for one
computation (in-process: one thread computes, the others wait on its result), and the answer is kept in
Redis for a second or two, so the other gunicorn workers and the next poller get it without a query.
Across processes a Redis `SET NX` lock plays the same part, with a bounded wait.

Keyed by the data too: with `watermarked=True` an answer is fresh only while the store's data watermark
(a counter the sink moves after every batch it stores, `LiveStore.note_stored`) is the one it was computed
at, or younger than MIN_AGE_S. A late event in a period closed long ago shows within MIN_AGE_S, not when
a time to live runs out; the time to live remains the bound for a write that moved no watermark (Redis
down at that moment). The floor: under live ingest the watermark moves with every sink batch (0.5 s); a
hot answer computed again at each would triple the recomputations of an answer for "today so far" (whose
time to live is 1.5 s) and take CPU from the wall on a small machine (bench/web_load.py: docs/benchmarks.md).

Stale while revalidating: an answer past its time to live (or its watermark) is kept STALE_S longer. The
first request after it expired computes the new one (it alone waits, as with no cache); requests meanwhile,
in any worker, get the previous answer at once instead of queueing behind that computation. Before, 200
clients of `/kpis` all waited for the recomputation every 1.5 s: p95 1.1 s where the median was 0.18 s.

Redis is a help, not a dependency: when it is unreachable every request computes its own answer.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future

import redis

log = logging.getLogger(__name__)

PREFIX = "ecc:answer:"
LOCK_MS = 15_000  # longer than any drill-down query should take; a crashed holder frees it by then
POLL_S = 0.02
STALE_S = 10.0  # how long past its time to live an answer may stand in while the next one is computed
MIN_AGE_S = 1.5  # a watermarked answer serves this long however the data moves (TTL_OPEN_S in ecc.web.api)
PAUSE_S = 5.0  # after a Redis error, answer without the cache for this long instead of waiting on it


def client_for(url: str) -> redis.Redis:
    """A client that fails fast: a cache that waits seconds for a dead Redis is worse than none."""
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    return redis.Redis.from_url(url, decode_responses=True, socket_timeout=0.5, socket_connect_timeout=0.5,
                                retry=Retry(NoBackoff(), 0))


class AnswerCache:
    def __init__(self, client: redis.Redis | None, prefix: str = PREFIX, watermark_key: str | None = None):
        self.r = client
        self.prefix = prefix
        self.watermark_key = watermark_key
        self._flights: dict[str, Future] = {}
        self._guard = threading.Lock()
        self._paused_until = 0.0
        self.computed = 0  # answers this process computed itself (tests and the bench read it)

    def get(self, key: str, ttl_s: float, compute: Callable[[], str], *, watermarked: bool = False) -> str:
        """The cached answer for `key`, or `compute()`'s, shared with every concurrent caller; while one
        caller computes a new answer the others get the expired one (STALE_S at most past its ttl).
        `watermarked`: the answer also expires when the data watermark moves (MIN_AGE_S at the earliest)."""
        hit, fresh, mark = self._read(key, watermarked)
        if hit is not None and fresh:
            return hit
        with self._guard:
            flight = self._flights.get(key)
            leader = flight is None
            if leader:
                flight = self._flights[key] = Future()
        if not leader:
            if hit is not None:
                return hit
            return flight.result()  # re-raises the leader's exception: the same error for everyone
        try:
            value = self._compute_once(key, ttl_s, compute, stale=hit, mark=mark)
            flight.set_result(value)
            return value
        except BaseException as exc:
            flight.set_exception(exc)
            raise
        finally:
            with self._guard:
                self._flights.pop(key, None)

    def _compute_once(self, key: str, ttl_s: float, compute: Callable[[], str], stale: str | None,
                      mark: str) -> str:
        """`mark`: the watermark read before computing and when (`_read`), so data stored meanwhile makes
        the answer stale."""
        lock = self.prefix + "lock:" + key
        owner = self._try(lambda r: r.set(lock, "1", nx=True, px=LOCK_MS), default=True)
        if not owner and stale is not None:
            return stale  # another worker computes the new answer
        if not owner:
            # Another process computes this answer: wait for it rather than queue a second query.
            deadline = time.monotonic() + LOCK_MS / 1000
            while time.monotonic() < deadline:
                time.sleep(POLL_S)
                hit, _fresh, _mark = self._read(key, False)
                if hit is not None:
                    return hit
                if not self._try(lambda r: r.exists(lock), default=False):
                    break
        try:
            value = compute()
            self.computed += 1
            ttl_ms = max(1, int(ttl_s * 1000))
            self._try(lambda r: r.pipeline(transaction=False)
                      .set(self.prefix + key, value, px=ttl_ms + int(STALE_S * 1000))
                      .set(self.prefix + "fresh:" + key, mark, px=ttl_ms).execute())
            return value
        finally:
            if owner:
                self._try(lambda r: r.delete(lock))

    def _read(self, key: str, watermarked: bool) -> tuple[str | None, bool, str]:
        """(the answer kept for `key` or None, whether it is still fresh, the mark a new answer gets): fresh
        while within its time to live and, when `watermarked`, computed at the current data watermark or
        less than MIN_AGE_S ago. A mark is "<watermark> <epoch ms>" ("- <epoch ms>" unwatermarked)."""
        watermark = self.watermark_key if watermarked else None

        def read(r):
            pipe = r.pipeline(transaction=False).get(self.prefix + key).get(self.prefix + "fresh:" + key)
            return pipe.get(watermark).execute() if watermark else [*pipe.execute(), None]
        value, marker, current = (_text(v) for v in self._try(read, default=(None, None, None)))
        now_ms = int(time.time() * 1000)
        level = (current or "0") if watermark else "-"
        fresh = False
        if marker:
            marked_level, _, marked_at = marker.partition(" ")
            fresh = marked_level == level or now_ms - int(marked_at or 0) < MIN_AGE_S * 1000
        return value, fresh, f"{level} {now_ms}"

    def _try(self, op, default=None):
        if self.r is None or time.monotonic() < self._paused_until:
            return default
        try:
            return op(self.r)
        except redis.RedisError as exc:
            self._paused_until = time.monotonic() + PAUSE_S
            log.warning("answer cache unavailable (%s); computing without it for %.0f s", exc, PAUSE_S)
            return default


def _text(value) -> str | None:
    return value.decode() if isinstance(value, bytes) else value
