"""A believable, deterministic day of an internet branch: raw events exactly as upstream systems send them.

Leads arrive as a Poisson process whose intensity follows a Shanghai diurnal curve (trading-hour peaks,
an evening bump, quiet nights). Each lead then runs small threads (outbound calls, the 11-step opening
flow, and after opening deposits, asset snapshots and trades) as chains of scheduled actions: an action
emits one event and schedules its thread's next action. Only journeys in flight are held, not a day of
future events, so a long live run stays memory-bounded, and the output is the same however the caller
slices time into `advance` windows. Every day is treated as a trading day.

Transport noise (late, duplicated and malformed inputs) draws from its own random stream, so switching
it on adds noise around exactly the same business facts.
"""

from __future__ import annotations

import gc
import hashlib
import heapq
import itertools
import json
import logging
import math
import random
import re
from bisect import bisect
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from functools import lru_cache
from operator import itemgetter
from statistics import NormalDist

from ecc import catalogue, timeutil

log = logging.getLogger(__name__)

Item = dict | str  # an event object, or a malformed raw line (the `bad` option)
SECOND, MINUTE, HOUR, DAY = 1000, 60_000, 3_600_000, 86_400_000
# Asia/Shanghai has been UTC+8 without DST since 1991: a fixed offset is exact and much faster than zoneinfo.
_UTC8 = 8 * HOUR
_MILLIS = tuple(f".{ms:03d}+08:00" for ms in range(1000))


@lru_cache(maxsize=4096)  # events come in time order, so one second's prefix serves many events
def _second_prefix(second: int) -> str:
    local_day, rem = divmod(second + _UTC8 // 1000, 86_400)
    day_text = date.fromordinal(719163 + local_day).isoformat()  # 719163 = ordinal of 1970-01-01
    return f"{day_text}T{rem // 3600:02d}:{rem // 60 % 60:02d}:{rem % 60:02d}"


def iso(ts_ms: int) -> str:
    """ts as upstream writes it: Shanghai local time, milliseconds, +08:00."""
    return _second_prefix(ts_ms // 1000) + _MILLIS[ts_ms % 1000]


def _minute_of_day(ts_ms: int) -> int:
    return (ts_ms + _UTC8) % DAY // MINUTE


def _defer(ts: int, hours: tuple[tuple[int, int], ...], jitter: float) -> int:
    """ts if it falls in working hours (local minutes [open, close)), else the next opening plus up to
    30 minutes of jitter, so that deferred work does not all land on the same millisecond."""
    minute, midnight = _minute_of_day(ts), ts - (ts + _UTC8) % DAY
    for opening, closing in hours:
        if minute < opening:
            return midnight + opening * MINUTE + int(jitter * 30 * MINUTE)
        if minute < closing:
            return ts
    return midnight + DAY + hours[0][0] * MINUTE + int(jitter * 30 * MINUTE)


_CALL_HOURS = ((9 * 60, 21 * 60),)  # outbound calls are not placed at night
_REVIEW_HOURS = ((8 * 60 + 30, 22 * 60),)  # reviewers approve accounts in office hours
_SESSIONS = ((9 * 60 + 30, 11 * 60 + 30), (13 * 60, 15 * 60))  # exchange sessions, for stock and bond trades

# Lead intensity by local time (minute, relative level); interpolated per minute and normalised to mean 1.
_CURVE_KNOTS = ((0, .15), (60, .08), (120, .05), (180, .04), (300, .05), (360, .12), (420, .3), (480, .6),
                (540, 1.0), (565, 1.1), (575, 2.0), (600, 2.2), (660, 2.0), (688, 1.7), (695, 1.0), (720, .8),
                (775, .85), (785, 1.8), (840, 2.0), (895, 1.9), (905, 1.2), (960, .9), (1080, .8),
                (1140, 1.15), (1200, 1.4), (1260, 1.35), (1320, .9), (1380, .4), (1440, .15))


def _minute_curve() -> tuple[float, ...]:
    levels = []
    for minute in range(1440):
        i = bisect([k[0] for k in _CURVE_KNOTS], minute) - 1
        (x0, y0), (x1, y1) = _CURVE_KNOTS[i], _CURVE_KNOTS[i + 1]
        levels.append(y0 + (y1 - y0) * (minute - x0) / (x1 - x0))
    return tuple(level * 1440 / sum(levels) for level in levels)


DIURNAL = _minute_curve()


def diurnal(ts_ms: int) -> float:
    """Relative lead intensity at an instant (mean 1 over a Shanghai day)."""
    return DIURNAL[_minute_of_day(ts_ms)]


# ---- the business model ----

@dataclass(frozen=True)
class _Channel:
    code: str
    share: float  # of lead volume
    start: float  # P(a lead goes on to step 1)
    quality: float  # multiplies every step's drop-off: below 1 better leads, above 1 worse
    deposit: float  # P(an opened account deposits)
    devices: tuple[int, ...]  # weights of catalogue.DEVICES
    segments: tuple[int, ...]  # weights of catalogue.SEGMENTS


_CHANNELS = (  # big, mediocre traffic (douyin, app stores) to small, well-qualified referrals
    _Channel("app_store", .22, .75, 1.0, .75, (35, 62, 2, 1), (50, 30, 20)),
    _Channel("douyin", .24, .55, 1.35, .65, (35, 60, 3, 2), (60, 25, 15)),
    _Channel("search", .12, .6, 1.05, .72, (20, 25, 55, 0), (50, 30, 20)),
    _Channel("wechat", .14, .65, .9, .75, (40, 50, 10, 0), (45, 35, 20)),
    _Channel("bank_partner", .07, .75, .7, .85, (30, 40, 30, 0), (25, 45, 30)),
    _Channel("internet_platform", .13, .6, 1.2, .68, (35, 55, 10, 0), (55, 30, 15)),
    _Channel("branch_referral", .03, .85, .45, .9, (40, 45, 10, 5), (35, 30, 35)),
    _Channel("customer_referral", .05, .8, .6, .85, (45, 50, 5, 0), (45, 30, 25)),
)
_CAMPAIGNS = {"app_store": ("huawei_appgallery", "xiaomi_store", "apple_search_ads"),
              "douyin": ("dy_live", "dy_short_video", "dy_kol"), "search": ("baidu_brand", "baidu_kaihu"),
              "wechat": ("wx_official", "wx_mini_program"), "bank_partner": ("icbc_coop", "cmb_coop"),
              "internet_platform": ("tonghuashun", "eastmoney"), "branch_referral": ("branch_event",),
              "customer_referral": ("invite_friend",)}
_PROVINCES = {"广东": 12, "江苏": 9, "浙江": 9, "山东": 7, "河南": 6, "四川": 6, "上海": 6, "北京": 5, "湖北": 4,
              "湖南": 4, "福建": 4, "河北": 4, "安徽": 3, "辽宁": 3, "陕西": 3, "重庆": 3, "江西": 2, "云南": 2,
              "广西": 2, "山西": 2, "天津": 2, "贵州": 1, "黑龙江": 1, "吉林": 1, "内蒙古": 1, "新疆": 1,
              "甘肃": 1, "海南": 1, "宁夏": .5, "青海": .3, "西藏": .2}
_MOBILE_PREFIXES = (*range(130, 140), 150, 151, 152, 153, 155, 156, 157, 158, 159, 166, 173, 175, 176, 177,
                    178, *range(180, 190), 191, 193, 195, 198, 199)

# Base drop-off after completing step k (index k-1), before review rejections; channel quality scales it.
_DROP = (.14, .12, .05, .07, .10, .14, .12, .06, .04, .06)
_GAP_S = (60, 45, 50, 40, 120, 60, 90, 300, 60, 1200)  # median seconds from step k to step k+1
# Review-type steps: (P(rejected), P(retry after a rejection, then pass), median retry delay s, reasons)
_REVIEWS = {
    2: (.10, .75, 300, ("身份证照片模糊", "身份证已过期", "身份证照片反光或不完整", "证件信息与公安系统不一致")),
    8: (.07, .70, 900, ("视频中未见本人正脸", "网络中断，视频见证未完成", "见证问答回答不清",
                        "环境嘈杂无法确认开户意愿")),
    10: (.06, .85, 3600, ("风险测评与职业信息不符", "三方存管信息有误", "电子签名不规范", "资料不完整需补充")),
}
_ROBOT_OUTCOMES = {"connected": 45, "no_answer": 28, "busy": 9, "refused": 10, "invalid": 8}
_AGENT_OUTCOMES = {"connected": 75, "no_answer": 15, "busy": 5, "refused": 5}
_DIAL_P, _ROBOT_TRIES, _RETRY_P, _AGENT_P = .98, 3, .7, .4
_MOVES_MAX, _MORE_MOVES_P, _OUT_P = 4, .35, .2  # deposits and withdrawals per account
_TRADES_MAX, _TRADE_P, _MORE_TRADES_P = 5, .7, .5
# Weights of catalogue.ASSET_CLASSES (holdings) and catalogue.PRODUCTS (trades) per segment.
_HOLDING_MIX = {"trading": (60, 10, 5, 5, 20), "wealth": (5, 25, 45, 10, 15),
                "allocation": (20, 30, 15, 25, 10)}
_PRODUCT_MIX = {"trading": (70, 10, 5, 5, 10), "wealth": (5, 25, 55, 10, 5),
                "allocation": (20, 35, 15, 25, 5)}
_LEVEL_FLOORS_CNY = (0, 10_000, 50_000, 100_000, 300_000, 500_000, 1_000_000, 5_000_000)  # V0..V7


def _table(weights: dict) -> tuple[tuple, tuple[float, ...]]:
    """(values, cumulative weights) for `_pick`: faster than random.choices on a hot path."""
    return tuple(weights), tuple(itertools.accumulate(weights.values()))


def _pick(rng: random.Random, table: tuple[tuple, tuple[float, ...]]):
    values, cumulative = table
    return values[bisect(cumulative, rng.random() * cumulative[-1])]


def _one(rng: random.Random, values: tuple):
    """Uniform choice; cheaper than rng.choice on a hot path."""
    return values[int(rng.random() * len(values))]


_CHANNEL_TABLE, _PROVINCE_TABLE = _table({c: c.share for c in _CHANNELS}), _table(_PROVINCES)
_ROBOT_TABLE, _AGENT_TABLE = _table(_ROBOT_OUTCOMES), _table(_AGENT_OUTCOMES)
_DEVICE_TABLES = {c.code: _table(dict(zip(catalogue.DEVICES, c.devices))) for c in _CHANNELS}
_SEGMENT_TABLES = {c.code: _table(dict(zip(catalogue.SEGMENTS, c.segments))) for c in _CHANNELS}
_PRODUCT_TABLES = {s: _table(dict(zip(catalogue.PRODUCTS, mix))) for s, mix in _PRODUCT_MIX.items()}
# P(a lead who completed step k attempts step k+1), per channel; index k-1.
_CONVERSIONS = {c.code: tuple(min(.995, max(.3, 1 - d * c.quality)) for d in _DROP) for c in _CHANNELS}


def _expected_events(channel: _Channel) -> float:
    """Events one lead of this channel produces on average: turns the events/s target into a lead rate.
    Mirrors the actions below; a test checks the realised daily rate against the configured one."""
    robot_calls, robot_connected, reached = 0.0, 0.0, 1.0
    total = sum(_ROBOT_OUTCOMES.values())
    for _ in range(_ROBOT_TRIES):
        robot_calls += reached
        robot_connected += reached * _ROBOT_OUTCOMES["connected"] / total
        reached *= (_ROBOT_OUTCOMES["no_answer"] + _ROBOT_OUTCOMES["busy"]) / total * _RETRY_P
    events = 1 + _DIAL_P * (robot_calls + robot_connected * _AGENT_P) + channel.start
    reach = channel.start
    for step, p in enumerate(_CONVERSIONS[channel.code], 1):
        rate, retry = _REVIEWS[step + 1][:2] if step + 1 in _REVIEWS else (0, 0)
        events += reach * p * (1 + rate * retry)
        reach *= p * (1 - rate * (1 - retry))
    moves = channel.deposit * sum(_MORE_MOVES_P ** i for i in range(_MOVES_MAX))
    trades = channel.deposit * _TRADE_P * sum(_MORE_TRADES_P ** i for i in range(_TRADES_MAX))
    return events + reach * (2 * moves + trades)  # every money movement is followed by an asset snapshot


EVENTS_PER_LEAD = sum(c.share * _expected_events(c) for c in _CHANNELS)

# exp(sigma * z) at 1024 normal quantiles: a look-up is several times faster than random.gauss, and the
# tails are cut at ~3.3 sigma, which also caps how long a journey can stay in flight.
_Z = tuple(NormalDist().inv_cdf((i + .5) / 1024) for i in range(1024))
_SPREAD = {sigma: tuple(math.exp(sigma * z) for z in _Z) for sigma in (.8, 1.0, 1.2)}


def _lognormal(rng: random.Random, median: float, sigma: float = .8) -> int:
    return int(median * _SPREAD[sigma][int(rng.random() * 1024)])


def _cents_text(cents: int) -> str:
    return f"{cents // 100}.{cents % 100:02d}"


def _deposit_cents(rng: random.Random, first: bool) -> int:
    """Log-normal within 1k..500k CNY, people mostly typing round amounts; 1% of new accounts are wealthy
    clients moving 1M..10M in from another broker, so that the top levels V5..V7 are not empty."""
    if first and rng.random() < .01:
        return min(10_000_000, max(1_000_000, _lognormal(rng, 2_500_000, .8))) // 10_000 * 1_000_000
    while not 1_000 <= (amount := _lognormal(rng, 20_000 if first else 10_000, 1.2)) <= 500_000:
        pass
    roll = rng.random()
    if roll < .85:
        return max(1_000, round(amount, -3 if roll < .55 else -2)) * 100
    return amount * 100 + int(rng.random() * 100)


# ---- configuration ----

@dataclass(frozen=True)
class Anomaly:
    """From `from_ms` on, leads of `channel` who complete `step` go on to step+1 `factor` times as often,
    so metrics' step_conversion[step] = reach[step+1] / reach[step] drops by that factor."""

    step: int
    channel: str
    factor: float = 0.5
    from_ms: int | None = None  # None: from the start

    def __post_init__(self) -> None:
        if not 1 <= self.step <= 10:
            raise ValueError(f"anomaly: step must be 1..10 (the conversion from step k to k+1), "
                             f"got {self.step}")
        if self.channel not in catalogue.CHANNELS:
            raise ValueError(f"anomaly: unknown channel {self.channel!r} "
                             f"(use {', '.join(catalogue.CHANNELS)})")
        if not 0 <= self.factor <= 1:
            raise ValueError(f"anomaly: factor must be between 0 and 1, got {self.factor}")


def parse_anomaly(spec: str) -> Anomaly:
    """`step=8,channel=douyin,factor=0.5,from=2026-11-21T10:00:00+08:00` (factor and from optional)."""
    fields: dict[str, str] = {}
    for part in filter(None, (p.strip() for p in spec.split(","))):
        key, sep, value = (s.strip() for s in part.partition("="))
        if not sep or key not in ("step", "channel", "factor", "from"):
            raise ValueError(f"anomaly: expected key=value with keys step, channel, factor, from; "
                             f"got {part!r}")
        fields[key] = value
    if "step" not in fields or "channel" not in fields:
        raise ValueError(f"anomaly: step= and channel= are required, got {spec!r}")
    try:
        step, factor = int(fields["step"]), float(fields.get("factor", "0.5"))
    except ValueError:
        raise ValueError(f"anomaly: step must be an integer and factor a number, got {spec!r}") from None
    start = fields.get("from")
    from_ms = None if start is None else int(timeutil.parse_instant(start, "anomaly from").timestamp() * 1000)
    return Anomaly(step, fields["channel"], factor, from_ms)


@dataclass(frozen=True)
class SimConfig:
    seed: int = 1
    rate: float = 200.0  # average distinct valid events/s over a Shanghai day; noise comes on top
    surge: float = 1.0  # multiplies the lead rate, hence every event rate; 10 = a surge
    surge_from: datetime | str | None = None  # the surge applies from this instant (None: always)
    anomaly: Anomaly | str | None = None  # an Anomaly or its spec (see parse_anomaly)
    duplicates: float = 0.0  # fraction of events re-sent 1 s..10 min later, same event_id and content
    late: float = 0.0  # fraction of events emitted 1..30 min after their ts
    bad: float = 0.0  # malformed raw lines added, as a fraction of events
    run_id: str | None = None  # id namespace; default from seed and start, so restarts do not collide

    def __post_init__(self) -> None:
        if not (self.rate > 0 and self.surge > 0):
            raise ValueError(f"rate and surge must be > 0, got rate={self.rate}, surge={self.surge}")
        for name in ("duplicates", "late", "bad"):
            if not 0 <= getattr(self, name) <= 1:
                raise ValueError(f"{name} must be a fraction 0..1, got {getattr(self, name)}")
        if self.run_id is not None and not re.fullmatch(r"[A-Za-z0-9_]{0,40}", self.run_id):
            raise ValueError(f"run_id must be 0..40 letters, digits or _, got {self.run_id!r}")
        if isinstance(self.anomaly, str):
            object.__setattr__(self, "anomaly", parse_anomaly(self.anomaly))
        if isinstance(self.surge_from, str):
            object.__setattr__(self, "surge_from", timeutil.parse_instant(self.surge_from, "surge_from"))
        if self.surge_from is not None and self.surge_from.tzinfo is None:
            raise ValueError("surge_from needs a UTC offset")


# ---- the simulator ----

_ARRIVE, _CALL, _STEP, _DEPOSIT, _ASSET, _TRADE = range(6)  # indexes of Simulator._actions
_due = itemgetter(0)


class _Journey:
    __slots__ = ("channel", "lead_id", "province", "step", "retried", "robot_calls", "agent_called",
                 "account_id", "segment", "balance", "moves", "next_out", "trades", "next_product")

    def __init__(self, channel: _Channel, lead_id: str, province: str) -> None:
        self.channel, self.lead_id, self.province = channel, lead_id, province
        self.step, self.retried, self.robot_calls, self.agent_called = 0, False, 0, False
        self.account_id, self.segment, self.balance, self.moves, self.trades = "", "", 0, 0, 0
        self.next_out, self.next_product = False, ""


class Simulator:
    """Generates from `start_ms` on with no journey in flight; `advance` (live) or `run` (a range)."""

    def __init__(self, config: SimConfig, start_ms: int) -> None:
        self.config = config
        self._rng = random.Random(config.seed)
        self._noise = random.Random(f"noise:{config.seed}")  # str seeds hash stably across processes
        self._noisy = bool(config.duplicates or config.late or config.bad)
        run = config.run_id if config.run_id is not None else \
            hashlib.blake2b(f"{config.seed}:{start_ms}".encode(), digest_size=3).hexdigest()
        # events l-<run>-00000001 (type letter), leads L<run>-00000001, accounts A<run>-00000001
        self._ids = {letter: f"{letter}-{run}-".replace("--", "-") if letter.islower() else f"{letter}{run}-"
                     for letter in "lscdatLA"}
        self._counters = {letter: itertools.count(1) for letter in self._ids}
        self._delayed_seq = itertools.count()
        # The threads in flight, as a timing wheel: second -> [(due_ms, action index, journey)]. Every
        # action schedules at least 1 s ahead, so a second's list is complete when it is opened; sorting
        # one small list per second is much cheaper than a heap of all the journeys in flight.
        self._wheel: defaultdict[int, list] = defaultdict(list)
        self._second, self._bucket, self._pos = start_ms // SECOND - 1, [], 0
        self._actions = (self._arrive, self._call, self._step, self._deposit, self._asset, self._trade)
        self._delayed: list = []  # (emit_ms, seq, item): late events and duplicates waiting for their turn
        self._out: list[tuple[int, Item]] = []
        self._now = start_ms
        self._leads_per_ms = config.rate / EVENTS_PER_LEAD / 1000
        self._surge_from = -math.inf if config.surge_from is None else config.surge_from.timestamp() * 1000
        self._anomaly: Anomaly | None = config.anomaly  # type: ignore[assignment]
        self._arrival_t = float(start_ms)
        self._next_arrival()
        log.debug("simulator seed=%s from %s: %.2f leads/s at the mean rate", config.seed, iso(start_ms),
                  self._leads_per_ms * 1000)

    @property
    def now_ms(self) -> int:
        """Everything emitted before this instant has been returned."""
        return self._now

    @property
    def in_flight(self) -> int:
        """Scheduled actions and delayed items held in memory."""
        scheduled = sum(map(len, self._wheel.values())) + len(self._bucket) - self._pos
        return scheduled + len(self._delayed)

    def advance(self, until_ms: int) -> list[tuple[int, Item]]:
        """(emit_ms, item) for every item emitted in [now_ms, until_ms), in emission order."""
        self._out = out = []
        delayed, actions = self._delayed, self._actions
        # Generation makes millions of short-lived objects that refcounting frees; left on, the cyclic
        # collector rescans every journey in flight again and again, which made generation ~3x slower.
        collecting = gc.isenabled()
        gc.disable()
        try:
            while True:
                bucket, pos = self._bucket, self._pos
                while pos < len(bucket) and bucket[pos][0] < until_ms:
                    due, action, journey = bucket[pos]
                    pos += 1
                    actions[action](journey, due)
                self._pos = pos
                if pos < len(bucket) or (self._second + 1) * SECOND >= until_ms:
                    break
                self._open_next_second()
            while delayed and delayed[0][0] < until_ms:
                emit, _, item = heapq.heappop(delayed)
                out.append((emit, item))
        finally:
            if collecting:
                gc.enable()
        self._now = max(self._now, until_ms)
        return out

    def run(self, end_ms: int, window_ms: int = 10 * MINUTE) -> Iterator[tuple[int, Item]]:
        """(emit_ms, item) up to end_ms, generated window by window to keep memory flat."""
        while self._now < end_ms:
            yield from self.advance(min(end_ms, self._now + window_ms))

    # -- plumbing --

    def _push(self, due: int, action: int, journey: _Journey) -> None:
        self._wheel[due // SECOND].append((due, action, journey))

    def _open_next_second(self) -> None:
        self._second += 1
        bucket = self._wheel.pop(self._second, None) or []
        while self._arrival_t < (self._second + 1) * SECOND:
            bucket.append((int(self._arrival_t), _ARRIVE, None))
            self._next_arrival()
        bucket.sort(key=_due)  # stable: equal times keep scheduling order, so the output is deterministic
        self._bucket, self._pos = bucket, 0

    def _id(self, letter: str) -> str:
        return f"{self._ids[letter]}{next(self._counters[letter]):08d}"

    def _next_arrival(self) -> None:
        """Next lead of a Poisson process whose rate is constant within a minute (and within either side
        of surge_from); exact, because arrivals are memoryless across those boundaries."""
        t, rng = self._arrival_t, self._rng
        while True:
            surged = t >= self._surge_from
            segment_end = t - t % MINUTE + MINUTE
            if not surged:
                segment_end = min(segment_end, self._surge_from)
            rate = self._leads_per_ms * DIURNAL[_minute_of_day(int(t))] * (self.config.surge if surged else 1)
            t += rng.expovariate(rate)
            if t < segment_end:
                break
            t = segment_end
        self._arrival_t = t

    def _emit(self, ts: int, event: dict) -> None:
        out, delayed = self._out, self._delayed
        while delayed and delayed[0][0] <= ts:
            emit, _, item = heapq.heappop(delayed)
            out.append((emit, item))
        if not self._noisy:
            out.append((ts, event))
            return
        noise, config = self._noise, self.config
        emit = ts
        if noise.random() < config.late:
            emit = ts + noise.randint(MINUTE, 30 * MINUTE)
            heapq.heappush(delayed, (emit, next(self._delayed_seq), event))
        else:
            out.append((ts, event))
        if noise.random() < config.duplicates:
            copy = {**event, "holdings": dict(event["holdings"])} if "holdings" in event else dict(event)
            resent = emit + noise.randint(SECOND, 10 * MINUTE)
            heapq.heappush(delayed, (resent, next(self._delayed_seq), copy))
        if noise.random() < config.bad:
            out.append((ts, malformed(event, ts, noise)))

    # -- actions: each emits one event and schedules its thread's next action, always >= 1 s later --

    def _arrive(self, _: None, ts: int) -> None:
        rng = self._rng
        channel = _pick(rng, _CHANNEL_TABLE)
        journey = _Journey(channel, self._id("L"), _pick(rng, _PROVINCE_TABLE))
        phone = f"{_one(rng, _MOBILE_PREFIXES)}{int(rng.random() * 1e8):08d}"
        self._emit(ts, {"event_id": self._id("l"), "type": "lead", "ts": iso(ts), "lead_id": journey.lead_id,
                        "channel": channel.code, "campaign": _one(rng, _CAMPAIGNS[channel.code]),
                        "province": journey.province, "device": _pick(rng, _DEVICE_TABLES[channel.code]),
                        "phone": phone})
        if rng.random() < _DIAL_P:
            due = _defer(ts + _lognormal(rng, 3 * MINUTE) + SECOND, _CALL_HOURS, rng.random())
            self._push(due, _CALL, journey)
        if rng.random() < channel.start:
            self._push(ts + _lognormal(rng, 30 * SECOND) + SECOND, _STEP, journey)

    def _call(self, journey: _Journey, ts: int) -> None:
        rng = self._rng
        by = "agent" if journey.agent_called else "robot"
        outcome = _pick(rng, _AGENT_TABLE if journey.agent_called else _ROBOT_TABLE)
        self._emit(ts, {"event_id": self._id("c"), "type": "call", "ts": iso(ts), "lead_id": journey.lead_id,
                        "channel": journey.channel.code, "outcome": outcome, "by": by})
        if journey.agent_called:
            return  # one agent call closes the thread
        journey.robot_calls += 1
        if outcome == "connected":
            if rng.random() < _AGENT_P:  # an interested lead is handed to a human agent
                journey.agent_called = True
                self._push(_defer(ts + _lognormal(rng, 15 * MINUTE) + SECOND, _CALL_HOURS, rng.random()),
                           _CALL, journey)
        elif outcome in ("no_answer", "busy") and journey.robot_calls < _ROBOT_TRIES \
                and rng.random() < _RETRY_P:
            self._push(_defer(ts + _lognormal(rng, HOUR), _CALL_HOURS, rng.random()), _CALL, journey)

    def _step(self, journey: _Journey, ts: int) -> None:
        rng = self._rng
        step = journey.step + 1
        event = {"event_id": self._id("s"), "type": "step", "ts": iso(ts), "lead_id": journey.lead_id,
                 "channel": journey.channel.code, "step": step}
        review = _REVIEWS.get(step)
        if review and not journey.retried and rng.random() < review[0]:
            event.update(status="rejected", reason=_one(rng, review[3]))
            self._emit(ts, event)
            if rng.random() < review[1]:
                journey.retried = True
                self._push(ts + _lognormal(rng, review[2] * SECOND) + SECOND, _STEP, journey)
            return
        journey.retried, journey.step = False, step
        if step == catalogue.OPENED_STEP:
            journey.account_id = event["account_id"] = self._id("A")
            self._emit(ts, event)
            journey.segment = _pick(rng, _SEGMENT_TABLES[journey.channel.code])
            if rng.random() < journey.channel.deposit:
                self._push(ts + _lognormal(rng, 20 * MINUTE) + SECOND, _DEPOSIT, journey)
            return
        self._emit(ts, event)
        p = _CONVERSIONS[journey.channel.code][step - 1]
        anomaly = self._anomaly
        if anomaly and anomaly.step == step and anomaly.channel == journey.channel.code \
                and (anomaly.from_ms is None or ts >= anomaly.from_ms):
            p *= anomaly.factor
        if rng.random() < p:
            due = ts + _lognormal(rng, _GAP_S[step - 1] * SECOND) + SECOND
            if step + 1 == catalogue.OPENED_STEP:
                due = _defer(due, _REVIEW_HOURS, rng.random())
            self._push(due, _STEP, journey)

    def _deposit(self, journey: _Journey, ts: int) -> None:
        rng = self._rng
        first = journey.moves == 0
        journey.moves += 1
        event = {"event_id": self._id("d"), "type": "deposit", "ts": iso(ts),
                 "account_id": journey.account_id}
        if journey.next_out:  # a withdrawal of part of the balance, which therefore stays positive
            cents = max(1, int(journey.balance * rng.uniform(.1, .5)))
            journey.balance -= cents
            event.update(amount=_cents_text(cents), direction="out")
        else:
            cents = _deposit_cents(rng, first)
            journey.balance += cents
            event["amount"] = _cents_text(cents)
            if first:
                event["first"] = True
        self._emit(ts, event)
        self._push(ts + int(rng.uniform(1, 10) * MINUTE), _ASSET, journey)
        if first and rng.random() < _TRADE_P:
            self._schedule_trade(journey, ts)
        if journey.moves < _MOVES_MAX and rng.random() < _MORE_MOVES_P:
            journey.next_out = rng.random() < _OUT_P
            self._push(ts + _lognormal(rng, 3 * HOUR, 1.0) + SECOND, _DEPOSIT, journey)

    def _asset(self, journey: _Journey, ts: int) -> None:
        """A snapshot whose holdings sum to the balance give or take market moves (-3%..+4%)."""
        rng = self._rng
        total = int(journey.balance * rng.uniform(.97, 1.04))
        weights = [w * rng.uniform(.5, 1.5) for w in _HOLDING_MIX[journey.segment]]
        scale, holdings, allocated = total / sum(weights), {}, 0
        for cls, weight in zip(catalogue.ASSET_CLASSES[:-1], weights):  # cash takes the remainder
            if (cents := int(weight * scale)) > 0:
                holdings[cls], allocated = _cents_text(cents), allocated + cents
        holdings["cash"] = _cents_text(total - allocated)
        level = catalogue.LEVELS[bisect(_LEVEL_FLOORS_CNY, total / 100) - 1]
        self._emit(ts, {"event_id": self._id("a"), "type": "asset", "ts": iso(ts),
                        "account_id": journey.account_id, "holdings": holdings, "level": level,
                        "segment": journey.segment, "province": journey.province})

    def _schedule_trade(self, journey: _Journey, ts: int) -> None:
        rng = self._rng
        journey.next_product = product = _pick(rng, _PRODUCT_TABLES[journey.segment])
        due = ts + _lognormal(rng, 40 * MINUTE, 1.0) + SECOND
        if product in ("stock", "bond"):  # exchange-traded: in sessions only; fund orders come any time
            due = _defer(due, _SESSIONS, rng.random())
        self._push(due, _TRADE, journey)

    def _trade(self, journey: _Journey, ts: int) -> None:
        rng = self._rng
        cents = max(10_000, int(journey.balance * rng.uniform(.05, .6)))
        if journey.next_product in ("fund", "wealth"):
            cents = max(10_000, cents // 10_000 * 10_000)  # subscriptions come in round hundreds
        self._emit(ts, {"event_id": self._id("t"), "type": "trade", "ts": iso(ts),
                        "account_id": journey.account_id, "amount": _cents_text(cents),
                        "product": journey.next_product})
        journey.trades += 1
        if journey.trades < _TRADES_MAX and rng.random() < _MORE_TRADES_P:
            self._schedule_trade(journey, ts)


# ---- malformed inputs (the `bad` option) ----

_REQUIRED = {"lead": ("lead_id", "channel"), "step": ("lead_id", "channel", "step"),
             "call": ("lead_id", "outcome"), "deposit": ("account_id", "amount"),
             "asset": ("account_id", "holdings"), "trade": ("account_id", "amount", "product")}
_WRONG_TYPE = {"lead": ("lead_id", 12345), "step": ("step", "三"), "call": ("outcome", 1),
               "deposit": ("amount", True), "asset": ("holdings", ["stock", 1000]),
               "trade": ("amount", {"value": 1})}
_BAD_ENUM = {"lead": ("device", "ipad"), "step": ("status", "pending"), "call": ("outcome", "hangup"),
             "deposit": ("direction", "sideways"), "asset": ("level", "V9"), "trade": ("product", "crypto")}
_GARBAGE = ("<html><body><h1>502 Bad Gateway</h1></body></html>", "type=lead&lead_id=L1&channel=douyin",
            "{'event_id': 'e1', 'type': 'lead'}", "ERROR upstream timeout after 30000 ms")
BAD_KINDS = ("truncated", "garbage", "missing_field", "naive_ts", "future_ts", "wrong_type", "unknown_type",
             "bad_enum", "negative_amount", "three_decimals", "not_object", "channel_name")


def malformed(event: dict, emit_ms: int, rng: random.Random) -> str:
    """A raw line the door must reject, derived from a real event as a broken producer would send it."""
    obj = {**event, "event_id": "x" + event["event_id"]}  # never collides with a valid event's id
    etype, kind = event["type"], _one(rng, BAD_KINDS)
    if kind in ("negative_amount", "three_decimals") and "amount" not in obj:
        kind = "bad_enum"
    if kind == "channel_name" and etype not in ("lead", "step"):
        kind = "wrong_type"
    if kind == "truncated":
        return to_line(obj)[:len(to_line(obj)) // 2]
    if kind == "garbage":
        return _one(rng, _GARBAGE)
    if kind == "not_object":
        return to_line([obj])
    if kind == "missing_field":
        del obj[_one(rng, ("event_id", "type", "ts") + _REQUIRED[etype])]
    elif kind in ("naive_ts", "future_ts"):
        obj["ts"] = obj["ts"][:-6] if kind == "naive_ts" else iso(emit_ms + rng.randint(10, 180) * MINUTE)
    elif kind in ("wrong_type", "bad_enum"):
        name, value = (_WRONG_TYPE if kind == "wrong_type" else _BAD_ENUM)[etype]
        obj[name] = value
    elif kind == "unknown_type":
        obj["type"] = _one(rng, ("click", "pageview", "LEAD", "order"))
    elif kind in ("negative_amount", "three_decimals"):
        obj["amount"] = "-" + obj["amount"] if kind == "negative_amount" else obj["amount"] + "7"
    elif kind == "channel_name":
        obj["channel"] = catalogue.channel_label(obj["channel"])  # the Chinese name instead of the code
    return to_line(obj)


# ---- conveniences ----

def is_bad(item: Item) -> bool:
    """Malformed inputs are raw lines (str); valid events are dicts."""
    return isinstance(item, str)


def to_line(item: Item | list) -> str:
    """One JSON Lines line (without the newline): events as compact JSON, Chinese kept as it is."""
    if isinstance(item, str):
        return item
    return json.dumps(item, ensure_ascii=False, separators=(",", ":"))


def generate(config: SimConfig, start_ms: int, end_ms: int) -> Iterator[tuple[int, Item]]:
    """(emit_ms, item) for [start_ms, end_ms) in emission order, starting with no journey in flight."""
    return Simulator(config, start_ms).run(end_ms)


def day_bounds(on: date) -> tuple[int, int]:
    """[start, end) of a Shanghai calendar day in epoch milliseconds."""
    start = int(timeutil.day_start(on).timestamp() * 1000)
    return start, start + DAY


def day(on: date, config: SimConfig | None = None, *, warmup_hours: float = 3.0) -> Iterator[Item]:
    """The items emitted during one Shanghai day, in emission order (an iterator: at the default rate a
    day is ~17M events). Generation starts `warmup_hours` earlier so that the morning has journeys in
    flight (overnight reviews approved at 08:30, evening leads called at 09:00), as a real day does."""
    start, end = day_bounds(on)
    for emit, item in Simulator(config or SimConfig(), start - int(warmup_hours * HOUR)).run(end):
        if emit >= start:
            yield item
