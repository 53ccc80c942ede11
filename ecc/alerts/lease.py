"""One evaluator however many processes run: a Redis lease (SET NX PX), renewed by its holder.

The holder renews it every evaluation; a holder that dies stops renewing and another process takes over
after `ttl_ms`. Renew and release compare the token first (a Lua script, atomic), so a process whose
lease expired while it was stalled can never extend or delete the lease another process now holds.
"""

from __future__ import annotations

import secrets

KEY = "ecc:alerts:evaluator"
_RENEW = ("if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end "
          "return 0")
_RELEASE = "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0"


class Lease:
    def __init__(self, client, ttl_ms: int = 30_000, key: str = KEY):
        self.r, self.ttl_ms, self.key = client, ttl_ms, key
        self.token = secrets.token_hex(8)
        self._renew = client.register_script(_RENEW)
        self._release = client.register_script(_RELEASE)

    def hold(self) -> bool:
        """True when this process holds the lease now (renewed, or newly taken)."""
        if self._renew(keys=[self.key], args=[self.token, self.ttl_ms]):
            return True
        return bool(self.r.set(self.key, self.token, nx=True, px=self.ttl_ms))

    def release(self) -> None:
        self._release(keys=[self.key], args=[self.token])
