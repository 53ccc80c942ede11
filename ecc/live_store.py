"""Redis half of the live store: apply event batches (ecc/live.lua) and read the wall snapshot."""

from __future__ import annotations

import logging
import time
from datetime import date
from importlib import resources

import redis

from ecc import live, timeutil
from ecc.events import Event, Rejection

log = logging.getLogger(__name__)
DAY_S = 86_400
RATE_WINDOW_S = 60


class LiveStore:
    """Today's counters in Redis. The stream worker writes; the wall only reads."""

    def __init__(self, client: redis.Redis, *, live_days: int = 8, prefix: str = "ecc:"):
        self.r = client
        self.prefix = prefix
        self.live_days = live_days
        self._apply = client.register_script(resources.files("ecc").joinpath("live.lua").read_text())

    @classmethod
    def from_url(cls, url: str, **kwargs) -> LiveStore:
        return cls(redis.Redis.from_url(url, decode_responses=True), **kwargs)

    def _key(self, *parts: str) -> str:
        return self.prefix + ":".join(parts)

    # ---- writing (stream worker) ----

    def apply(self, events: list[Event], now: date | None = None) -> tuple[int, int]:
        """Apply a batch exactly once per event_id; returns (applied, duplicates). Older days are skipped."""
        days = live.live_days(now or timeutil.today(), self.live_days)
        args: list[str] = [self.prefix, str(self.live_days * DAY_S * 2), str((self.live_days + 1) * DAY_S),
                           str(len(days)), *days]
        skipped = 0
        for event in events:
            if live.is_live(event, days[-1]):
                args.extend(live.encode(event))
            else:
                skipped += 1
        applied, duplicates = self._apply(args=args) if len(args) > 4 + len(days) else (0, 0)
        self._count_rate("accepted", applied)
        if skipped:
            log.debug("%d events older than the live window left to ClickHouse", skipped)
        return int(applied), int(duplicates)

    def record_rejections(self, rejections: list[Rejection]) -> int:
        """Count dead letters for the reject rate, once per reject_id."""
        pipe = self.r.pipeline()
        for rej in rejections:
            pipe.set(self._key("seen", "rej", rej.reject_id), "1", nx=True, ex=self.live_days * DAY_S)
        fresh = sum(1 for ok in pipe.execute() if ok)
        self._count_rate("rejected", fresh)
        return fresh

    def _count_rate(self, kind: str, n: int) -> None:
        if n <= 0:
            return
        key = self._key("rate", kind, str(int(time.time())))
        pipe = self.r.pipeline()
        pipe.incrby(key, n)
        pipe.expire(key, RATE_WINDOW_S * 2)
        pipe.execute()

    def trim(self, now_ms: int | None = None) -> None:
        """Forget calls and deposits older than the live window (they can no longer join a live day)."""
        cutoff = (now_ms or timeutil.now_ms()) - (self.live_days + 1) * DAY_S * 1000
        for name in ("called", "connected", "deposited"):
            self.r.zremrangebyscore(self._key(name), "-inf", cutoff)

    # ---- reading (wall, health) ----

    def rate(self, kind: str) -> float:
        now = int(time.time())
        keys = [self._key("rate", kind, str(s)) for s in range(now - RATE_WINDOW_S + 1, now + 1)]
        return sum(int(v) for v in self.r.mget(keys) if v) / RATE_WINDOW_S

    def freshness_ms(self) -> dict[str, int]:
        return {k: int(v) for k, v in self.r.hgetall(self._key("fresh")).items()}

    def snapshot(self, day: date | None = None) -> dict:
        day = day or timeutil.today()
        key, prev_key = day.strftime("%Y%m%d"), live.live_days(day, 2)[1]
        pipe = self.r.pipeline()
        pipe.hgetall(self._key(key, "c"))
        pipe.hgetall(self._key(key, "m"))
        pipe.hgetall(self._key(prev_key, "c"))
        pipe.hgetall(self._key("aum"))
        pipe.hget(self._key("fresh"), "all")
        counters, minutes, previous, aum, fresh = pipe.execute()

        def ints(h: dict) -> dict[str, int]:
            return {k: int(v) for k, v in h.items()}
        return live.snapshot(day, ints(counters), ints(minutes), ints(previous), ints(aum),
                             int(fresh) if fresh else None, timeutil.now_ms(),
                             self.rate("accepted"), self.rate("rejected"))

    def ping(self) -> bool:
        try:
            return bool(self.r.ping())
        except redis.RedisError:
            return False
