"""Counters in Redis, so that they hold across gunicorn workers: login throttling and the per-token
rate limit of ingest. Fixed windows (INCR + EXPIRE in one round trip): a client may burst up to twice
the limit across a window's edge, which is acceptable for both uses and costs one Redis call."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

_PREFIX = "ecc:auth:"


@dataclass(frozen=True)
class LoginLimits:
    per_user: int = 5  # failed logins for one user name ...
    per_ip: int = 20  # ... or from one address ...
    window_s: int = 900  # ... within 15 minutes lock further attempts until the window ends


class LoginThrottle:
    def __init__(self, r, limits: LoginLimits = LoginLimits()) -> None:
        self.r, self.limits = r, limits

    def _keys(self, name: str, ip: str) -> list[tuple[str, int]]:
        return [(f"{_PREFIX}fail:user:{name.lower()}", self.limits.per_user),
                (f"{_PREFIX}fail:ip:{ip}", self.limits.per_ip)]

    def retry_after(self, name: str, ip: str) -> int:
        """Seconds until this user name may try again from this address (0: now)."""
        keys = self._keys(name, ip)
        with self.r.pipeline(transaction=False) as p:
            for key, _ in keys:
                p.get(key)
                p.ttl(key)
            values = p.execute()
        wait = 0
        for i, (_, limit) in enumerate(keys):
            count, ttl = values[2 * i], values[2 * i + 1]
            if count is not None and int(count) >= limit:
                wait = max(wait, ttl if ttl and ttl > 0 else self.limits.window_s)
        return wait

    def failed(self, name: str, ip: str) -> None:
        with self.r.pipeline(transaction=False) as p:
            for key, _ in self._keys(name, ip):
                p.incr(key)
                p.expire(key, self.limits.window_s, nx=True)
            p.execute()

    def succeeded(self, name: str) -> None:
        self.r.delete(f"{_PREFIX}fail:user:{name.lower()}")


def rate_hit(r, key: str, limit: int, window_s: int = 60, now: float | None = None) -> int:
    """Count one request of `key` in the current window: 0 if within `limit`, else the seconds to wait."""
    now = time.time() if now is None else now
    window = int(now // window_s)
    counter = f"{_PREFIX}rate:{key}:{window}"
    with r.pipeline(transaction=False) as p:
        p.incr(counter)
        p.expire(counter, window_s * 2)
        count, _ = p.execute()
    if int(count) <= limit:
        return 0
    return max(1, math.ceil((window + 1) * window_s - now))
