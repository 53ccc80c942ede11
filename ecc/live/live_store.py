"""Redis half of the live store: apply event batches (ecc/live.lua) and read the wall snapshot.

Besides the counters it keeps the bookkeeping that lets the live state heal (ecc.live.live_rebuild) and
health tell a stuck part from a live one:
- `<prefix>live:epoch`: written once a complete build of the live state is in Redis (no TTL). Missing
  means Redis is empty, new or was flushed: the numbers cannot be trusted until a rebuild writes it.
- `<prefix>live:state`, `<prefix>live:lock`, `<prefix>live:token`: the running rebuild, its owner
  (SET NX with expiry: one rebuilder however many sinks run) and the token it finishes with.
- `<prefix>hb` / `<prefix>hb:err`: heartbeat per component (epoch ms) and its last error while retrying.
- `<prefix>sink:polls`: per sink process, its last poll and the last time it had stored all it had read.
- `<prefix>live:behind` and `<prefix>live:history_turn`: today's events before history across every
  worker process (streams/live_consumer.py): the today's consumers working off a backlog (owner -> until
  when, so a dead worker's mark lapses), and which history consumer may apply a batch now.
- `<prefix>stored`: the data watermark, a counter every sink moves after each batch it stores in
  ClickHouse; the drill-down's answer cache keys its answers by it (ecc/web/answer_cache.py).
"""

from __future__ import annotations

import logging
import time
from datetime import date
from importlib import resources

import redis

from ecc import timeutil
from ecc.contract.events import Event, Rejection
from ecc.live import live_codec
from ecc.live import snapshot as live
from ecc.olap.faults import describe

log = logging.getLogger(__name__)
DAY_S = 86_400
RATE_WINDOW_S = 60
RETIRED_KEYS = ("aum", "asset:key", "asset:val")  # see trim()
ERROR_LIMIT = 300  # characters of a heartbeat's error
# Release the rebuild lock only if we still own it (a lock that expired may have a new owner).
_RELEASE = "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0"
_REFRESH = ("if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) "
            "end return 0")
# Write the epoch only if the token of this rebuild survived: a flush during the rebuild deletes it,
# and what was applied before that flush is gone, so the rebuild must start again.
_FINISH = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[2], ARGV[2])
redis.call('HSET', KEYS[3], 'state', 'ok', 'since', ARGV[2], 'progress', '1')
redis.call('DEL', KEYS[1])
return 1
"""


class LiveStore:
    """Today's counters in Redis. The stream worker writes; the wall only reads."""

    def __init__(self, client: redis.Redis, *, live_days: int = 8, prefix: str = "ecc:"):
        self.r = client
        self.prefix = prefix
        self.live_days = live_days
        self._apply = client.register_script(resources.files("ecc.live").joinpath("live.lua").read_text())

    @classmethod
    def from_url(cls, url: str, **kwargs) -> LiveStore:
        # Timeouts: a Redis that hangs (stopped, overloaded) must surface as an error to retry, not block
        # a worker or the sink forever.
        client = redis.Redis.from_url(url, decode_responses=True, socket_connect_timeout=3, socket_timeout=10,
                                      health_check_interval=15)
        return cls(client, **kwargs)

    def _key(self, *parts: str) -> str:
        return self.prefix + ":".join(parts)

    # ---- writing (stream worker) ----

    def apply(self, events: list[Event], now: date | None = None, count_rate: bool = True) -> tuple[int, int]:
        """Apply a batch exactly once per event_id; returns (applied, duplicates). Older days are skipped.

        `count_rate=False` for a rebuild: replayed history is not ingest."""
        return self._apply_records(events, live_codec.from_event, now, count_rate)

    def apply_payloads(self, payloads: list[bytes], now: date | None = None) -> tuple[int, int]:
        """`apply` for raw payloads of the events topic (`Event.to_json()`), the stream worker's hot path:
        each is decoded straight to its Lua record, no `Event` in between."""
        return self._apply_records(payloads, _payload_record, now, True)

    def _apply_records(self, items: list, to_record, now: date | None, count_rate: bool) -> tuple[int, int]:
        days = live.live_days(now or timeutil.today(), self.live_days)
        oldest = days[-1]
        records, skipped = [], 0
        for item in items:
            try:
                record = to_record(item)
            except (ValueError, TypeError, KeyError, ArithmeticError, AttributeError, RecursionError) as exc:
                # Not countable (e.g. a type the door never lets in): it must not stop the batch.
                log.error("event %r cannot be counted live: %s", _event_id(item), describe(exc))
                continue
            if record[2] < oldest:  # the day key: older days are left to ClickHouse
                skipped += 1
                continue
            records.append(record)
        applied = duplicates = 0
        if records:
            applied, duplicates = self._apply(args=[self.prefix, str(self.live_days * DAY_S * 2),
                                                    str((self.live_days + 1) * DAY_S), str(len(days)), *days,
                                                    live_codec.pack(records)])
        if count_rate:
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

    # ---- the data watermark: the sink moves it, the drill-down's answer cache reads it ----

    @property
    def stored_key(self) -> str:
        return self._key("stored")

    def note_stored(self) -> None:
        """ClickHouse holds more than before: answers computed earlier are stale (ecc/web/answer_cache.py)."""
        self.r.incr(self.stored_key)

    # ---- today first: the live consumers of every worker process (streams/live_consumer.py) ----

    def mark_today_behind(self, owner: str, behind: bool, for_s: float = 2.0) -> None:
        """`owner`'s today's consumer is (still) working off a backlog, or no longer."""
        if behind:
            self.r.zadd(self._key("live", "behind"), {owner: timeutil.now_ms() + int(for_s * 1000)})
        else:
            self.r.zrem(self._key("live", "behind"), owner)

    def today_behind(self) -> bool:
        """Whether any worker's today's consumer is working off a backlog."""
        return bool(self.r.zcount(self._key("live", "behind"), timeutil.now_ms(), "+inf"))

    def take_history_turn(self, owner: str, ttl_s: float) -> bool:
        """One history batch at a time across the workers: `owner` may apply its batch (and rest) now."""
        return bool(self.r.set(self._key("live", "history_turn"), owner, nx=True, px=int(ttl_s * 1000)))

    def end_history_turn(self, owner: str) -> None:
        self.r.eval(_RELEASE, 1, self._key("live", "history_turn"), owner)

    def trim(self, now_ms: int | None = None) -> None:
        """Forget calls and deposits older than the live window (they can no longer join a live day), and
        what releases before 2026-11-30 kept and nothing reads: each account's latest holdings and their
        sum (one field per account ever seen; UNLINK frees them without blocking Redis)."""
        cutoff = (now_ms or timeutil.now_ms()) - (self.live_days + 1) * DAY_S * 1000
        for name in ("called", "connected", "deposited"):
            self.r.zremrangebyscore(self._key(name), "-inf", cutoff)
        self.r.unlink(*(self._key(name) for name in RETIRED_KEYS))

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
        pipe.hget(self._key("fresh"), "all")
        pipe.get(self._key("live", "epoch"))
        pipe.hgetall(self._key("live", "state"))
        pipe.exists(self._key("live", "lock"))
        counters, minutes, previous, fresh, epoch, state, locked = pipe.execute()

        def ints(h: dict) -> dict[str, int]:
            return {k: int(v) for k, v in h.items()}
        snap = live.snapshot(day, ints(counters), ints(minutes), ints(previous),
                             int(fresh) if fresh else None, timeutil.now_ms(),
                             self.rate("accepted"), self.rate("rejected"))
        snap["live_state"] = live_state_of(epoch, state, bool(locked))
        return snap

    def ping(self) -> bool:
        try:
            return bool(self.r.ping())
        except redis.RedisError:
            return False

    # ---- live state: is what Redis holds complete? (ecc.live.live_rebuild) ----

    def live_state(self) -> dict:
        """{"state": "ok" | "rebuilding" | "empty", "since": ISO time or None, "progress": 0..1}."""
        pipe = self.r.pipeline()
        pipe.get(self._key("live", "epoch"))
        pipe.hgetall(self._key("live", "state"))
        pipe.exists(self._key("live", "lock"))
        epoch, state, locked = pipe.execute()
        return live_state_of(epoch, state, bool(locked))

    def has_epoch(self) -> bool:
        return bool(self.r.exists(self._key("live", "epoch")))

    def forget_epoch(self) -> None:
        """The live state is known to be incomplete (e.g. Redis came back from an old snapshot)."""
        self.r.delete(self._key("live", "epoch"))

    def generation(self) -> int:
        """A counter that only grows while Redis keeps its data: a smaller value than last time means
        Redis went back in time (restored from an older snapshot) or lost everything."""
        return int(self.r.incr(self._key("live", "gen")))

    def acquire_rebuild(self, owner: str, ttl_s: float) -> bool:
        return bool(self.r.set(self._key("live", "lock"), owner, nx=True, px=int(ttl_s * 1000)))

    def refresh_rebuild(self, owner: str, ttl_s: float) -> bool:
        return bool(self.r.eval(_REFRESH, 1, self._key("live", "lock"), owner, int(ttl_s * 1000)))

    def release_rebuild(self, owner: str) -> None:
        self.r.eval(_RELEASE, 1, self._key("live", "lock"), owner)

    def begin_rebuild(self, token: str, since_ms: int) -> None:
        pipe = self.r.pipeline()
        pipe.set(self._key("live", "token"), token)
        pipe.hset(self._key("live", "state"), mapping={"state": "rebuilding", "since": since_ms,
                                                       "progress": 0, "phase": "history"})
        pipe.execute()

    def rebuild_progress(self, progress: float, phase: str) -> None:
        self.r.hset(self._key("live", "state"), mapping={"progress": round(progress, 4), "phase": phase})

    def rebuild_token_alive(self, token: str) -> bool:
        return self.r.get(self._key("live", "token")) == token

    def finish_rebuild(self, token: str, now_ms: int) -> bool:
        """Write the epoch if this rebuild's token survived (no flush meanwhile); False otherwise."""
        return bool(self.r.eval(_FINISH, 3, self._key("live", "token"), self._key("live", "epoch"),
                                self._key("live", "state"), token, now_ms))

    # ---- heartbeats (health tells a stuck part from a live one) ----

    def beat(self, component: str, error: str | None = None) -> bool:
        """Record that `component` is alive now, with its last error while it retries; never raises
        (a heartbeat that cannot be written is itself the news)."""
        try:
            pipe = self.r.pipeline()
            pipe.hset(self._key("hb"), component, timeutil.now_ms())
            if error:
                pipe.hset(self._key("hb", "err"), component, error[:ERROR_LIMIT])
            else:
                pipe.hdel(self._key("hb", "err"), component)
            pipe.execute()
            return True
        except redis.RedisError as exc:
            log.debug("heartbeat of %s not written: %s", component, describe(exc))
            return False

    def heartbeats(self) -> dict[str, int]:
        """Component -> time of its last heartbeat (epoch ms)."""
        return {k: int(v) for k, v in self.r.hgetall(self._key("hb")).items()}

    def heartbeat_errors(self) -> dict[str, str]:
        """Component -> its last error, for components that are retrying now."""
        return dict(self.r.hgetall(self._key("hb", "err")))

    def note_sink_poll(self, sink_id: str, last_poll_s: float | None, caught_up_s: float | None) -> bool:
        """A sink's last poll and the start of its last poll that left nothing unstored (never raises)."""
        value = f"{_ms(last_poll_s)},{_ms(caught_up_s)}"
        try:
            self.r.hset(self._key("sink", "polls"), sink_id, value)
            return True
        except redis.RedisError as exc:
            log.debug("sink poll not written: %s", describe(exc))
            return False

    def sink_polls(self) -> dict[str, tuple[int, int]]:
        """sink id -> (last poll, caught up), epoch ms, 0 when unknown."""
        out = {}
        for sink_id, value in self.r.hgetall(self._key("sink", "polls")).items():
            last, _, caught = value.partition(",")
            out[sink_id] = (int(last or 0), int(caught or 0))
        return out


def _payload_record(payload: bytes) -> list[str]:
    return live_codec.from_payload(live_codec.decode(payload))


def _event_id(item) -> str:
    if isinstance(item, bytes | str):
        return repr(item[:80])
    return getattr(item, "event_id", "?")


def _ms(seconds: float | None) -> int:
    return int(seconds * 1000) if seconds else 0


def live_state_of(epoch: str | None, state: dict[str, str], locked: bool) -> dict:
    """The wall's view of the live state from the raw Redis values."""
    def iso(ms: str | None) -> str | None:
        return timeutil.to_local(int(ms)).isoformat(timespec="seconds") if ms else None
    if epoch:
        return {"state": "ok", "since": iso(epoch), "progress": 1.0}
    if locked and state.get("state") == "rebuilding":
        return {"state": "rebuilding", "since": iso(state.get("since")),
                "progress": float(state.get("progress") or 0), "phase": state.get("phase", "history")}
    return {"state": "empty", "since": None, "progress": 0.0}
