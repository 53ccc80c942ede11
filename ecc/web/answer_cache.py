"""A short-lived shared cache of drill-down answers, with single flight.

Every ClickHouse query of a web process goes through one lock (chDB serves one query at a time), so 200
clients asking for the same `/kpis` queued for 14 s. Here concurrent identical requests wait for one
computation (in-process: one thread computes, the others wait on its result), and the answer is kept in
Redis for a second or two, so the other gunicorn workers and the next poller get it without a query.
Across processes a Redis `SET NX` lock plays the same part, with a bounded wait.

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
PAUSE_S = 5.0  # after a Redis error, answer without the cache for this long instead of waiting on it


def client_for(url: str) -> redis.Redis:
    """A client that fails fast: a cache that waits seconds for a dead Redis is worse than none."""
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    return redis.Redis.from_url(url, decode_responses=True, socket_timeout=0.5, socket_connect_timeout=0.5,
                                retry=Retry(NoBackoff(), 0))


class AnswerCache:
    def __init__(self, client: redis.Redis | None, prefix: str = PREFIX):
        self.r = client
        self.prefix = prefix
        self._flights: dict[str, Future] = {}
        self._guard = threading.Lock()
        self._paused_until = 0.0
        self.computed = 0  # answers this process computed itself (tests and the bench read it)

    def get(self, key: str, ttl_s: float, compute: Callable[[], str]) -> str:
        """The cached answer for `key`, or `compute()`'s, shared with every concurrent caller."""
        hit = self._read(key)
        if hit is not None:
            return hit
        with self._guard:
            flight = self._flights.get(key)
            leader = flight is None
            if leader:
                flight = self._flights[key] = Future()
        if not leader:
            return flight.result()  # re-raises the leader's exception: the same error for everyone
        try:
            value = self._compute_once(key, ttl_s, compute)
            flight.set_result(value)
            return value
        except BaseException as exc:
            flight.set_exception(exc)
            raise
        finally:
            with self._guard:
                self._flights.pop(key, None)

    def _compute_once(self, key: str, ttl_s: float, compute: Callable[[], str]) -> str:
        lock = self.prefix + "lock:" + key
        owner = self._try(lambda r: r.set(lock, "1", nx=True, px=LOCK_MS), default=True)
        if not owner:
            # Another process computes this answer: wait for it rather than queue a second query.
            deadline = time.monotonic() + LOCK_MS / 1000
            while time.monotonic() < deadline:
                time.sleep(POLL_S)
                hit = self._read(key)
                if hit is not None:
                    return hit
                if not self._try(lambda r: r.exists(lock), default=False):
                    break
        try:
            value = compute()
            self.computed += 1
            self._try(lambda r: r.set(self.prefix + key, value, px=max(1, int(ttl_s * 1000))))
            return value
        finally:
            if owner:
                self._try(lambda r: r.delete(lock))

    def _read(self, key: str) -> str | None:
        value = self._try(lambda r: r.get(self.prefix + key))
        if isinstance(value, bytes):
            return value.decode()
        return value

    def _try(self, op, default=None):
        if self.r is None or time.monotonic() < self._paused_until:
            return default
        try:
            return op(self.r)
        except redis.RedisError as exc:
            self._paused_until = time.monotonic() + PAUSE_S
            log.warning("answer cache unavailable (%s); computing without it for %.0f s", exc, PAUSE_S)
            return default
