"""The business model behind the simulator: its parameters and the sampling helpers it draws with.

Leads arrive with an intensity that follows a Shanghai diurnal curve (trading-hour peaks, an evening bump,
quiet nights) and come through channels that differ in volume and quality. They are called, go through the
11-step opening flow with drop-offs and review rejections, and once opened deposit, get asset snapshots
and trade. Agent calls, approvals and exchange trades wait for their working hours; the night is quiet but
not empty, as a real branch's is: app sign-ups trickle in, flows already started go on, a robot calls some
night sign-ups back at once, fund orders come at any hour. Weekends have fewer sign-ups and no exchange
session (holidays are not modelled).
"""

from __future__ import annotations

import itertools
import math
import random
from bisect import bisect
from dataclasses import dataclass
from statistics import NormalDist

from ecc.contract import catalogue

SECOND, MINUTE, HOUR, DAY = 1000, 60_000, 3_600_000, 86_400_000
# Asia/Shanghai has been UTC+8 without DST since 1991: a fixed offset is exact and much faster than zoneinfo.
UTC8 = 8 * HOUR


# ---- the Shanghai clock ----

def minute_of_day(ts_ms: int) -> int:
    return (ts_ms + UTC8) % DAY // MINUTE


def defer(ts: int, hours: tuple[tuple[int, int], ...], jitter: float) -> int:
    """ts if it falls in working hours (local minutes [open, close)), else the next opening plus up to
    30 minutes of jitter, so that deferred work does not all land on the same millisecond."""
    minute, midnight = minute_of_day(ts), ts - (ts + UTC8) % DAY
    for opening, closing in hours:
        if minute < opening:
            return midnight + opening * MINUTE + int(jitter * 30 * MINUTE)
        if minute < closing:
            return ts
    return midnight + DAY + hours[0][0] * MINUTE + int(jitter * 30 * MINUTE)


def is_weekend(ts_ms: int) -> bool:
    """Saturday or Sunday in Shanghai (1970-01-01, day 0, was a Thursday)."""
    return ((ts_ms + UTC8) // DAY + 3) % 7 >= 5


def defer_to_weekday(ts: int, hours: tuple[tuple[int, int], ...], jitter: float) -> int:
    """`defer`, and past a weekend to Monday's opening: exchange sessions are held on weekdays only."""
    due = defer(ts, hours, jitter)
    while is_weekend(due):
        midnight = due - (due + UTC8) % DAY
        due = midnight + DAY + hours[0][0] * MINUTE + int(jitter * 30 * MINUTE)
    return due


CALL_HOURS = ((9 * 60, 21 * 60),)  # agents call, and robots retry, in these hours only
# A night sign-up (outside CALL_HOURS) is called back at once by a robot this often (it asked for a call,
# or the robot confirms the phone); the others get their first call when the call centre opens.
NIGHT_ROBOT_P = .3
WEEKEND_LEVEL = .6  # lead intensity on Saturdays and Sundays, against a weekday's
REVIEW_HOURS = ((8 * 60 + 30, 22 * 60),)  # reviewers approve accounts in office hours
SESSIONS = ((9 * 60 + 30, 11 * 60 + 30), (13 * 60, 15 * 60))  # exchange sessions, for stock and bond trades

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


def day_level(ts_ms: int) -> float:
    """Lead intensity of the day against a weekday's (a weekday's mean over the day is 1)."""
    return WEEKEND_LEVEL if is_weekend(ts_ms) else 1.0


# ---- channels, steps, money ----

@dataclass(frozen=True)
class Channel:
    code: str
    share: float  # of lead volume
    start: float  # P(a lead goes on to step 1)
    quality: float  # multiplies every step's drop-off: below 1 better leads, above 1 worse
    deposit: float  # P(an opened account deposits)
    devices: tuple[int, ...]  # weights of catalogue.DEVICES
    segments: tuple[int, ...]  # weights of catalogue.SEGMENTS


_CHANNELS = (  # big, mediocre traffic (douyin, app stores) to small, well-qualified referrals
    Channel("app_store", .22, .75, 1.0, .75, (35, 62, 2, 1), (50, 30, 20)),
    Channel("douyin", .24, .55, 1.35, .65, (35, 60, 3, 2), (60, 25, 15)),
    Channel("search", .12, .6, 1.05, .72, (20, 25, 55, 0), (50, 30, 20)),
    Channel("wechat", .14, .65, .9, .75, (40, 50, 10, 0), (45, 35, 20)),
    Channel("bank_partner", .07, .75, .7, .85, (30, 40, 30, 0), (25, 45, 30)),
    Channel("internet_platform", .13, .6, 1.2, .68, (35, 55, 10, 0), (55, 30, 15)),
    Channel("branch_referral", .03, .85, .45, .9, (40, 45, 10, 5), (35, 30, 35)),
    Channel("customer_referral", .05, .8, .6, .85, (45, 50, 5, 0), (45, 30, 25)),
)
CAMPAIGNS = {"app_store": ("huawei_appgallery", "xiaomi_store", "apple_search_ads"),
            "douyin": ("dy_live", "dy_short_video", "dy_kol"), "search": ("baidu_brand", "baidu_kaihu"),
            "wechat": ("wx_official", "wx_mini_program"), "bank_partner": ("icbc_coop", "cmb_coop"),
            "internet_platform": ("tonghuashun", "eastmoney"), "branch_referral": ("branch_event",),
            "customer_referral": ("invite_friend",)}
_PROVINCES = {"广东": 12, "江苏": 9, "浙江": 9, "山东": 7, "河南": 6, "四川": 6, "上海": 6, "北京": 5,
              "湖北": 4, "湖南": 4, "福建": 4, "河北": 4, "安徽": 3, "辽宁": 3, "陕西": 3, "重庆": 3,
              "江西": 2, "云南": 2, "广西": 2, "山西": 2, "天津": 2, "贵州": 1, "黑龙江": 1, "吉林": 1,
              "内蒙古": 1, "新疆": 1, "甘肃": 1, "海南": 1, "宁夏": .5, "青海": .3, "西藏": .2}
MOBILE_PREFIXES = (*range(130, 140), 150, 151, 152, 153, 155, 156, 157, 158, 159, 166, 173, 175, 176, 177,
                  178, *range(180, 190), 191, 193, 195, 198, 199)

# Base drop-off after completing step k (index k-1), before review rejections; channel quality scales it.
_DROP = (.14, .12, .05, .07, .10, .14, .12, .06, .04, .06)
GAP_S = (60, 45, 50, 40, 120, 60, 90, 300, 60, 1200)  # median seconds from step k to step k+1
# Review-type steps: (P(rejected), P(retry after a rejection, then pass), median retry delay s, reasons)
REVIEWS = {
    2: (.10, .75, 300, ("身份证照片模糊", "身份证已过期", "身份证照片反光或不完整",
                        "证件信息与公安系统不一致")),
    8: (.07, .70, 900, ("视频中未见本人正脸", "网络中断，视频见证未完成", "见证问答回答不清",
                        "环境嘈杂无法确认开户意愿")),
    10: (.06, .85, 3600, ("风险测评与职业信息不符", "三方存管信息有误", "电子签名不规范",
                          "资料不完整需补充")),
}
_ROBOT_OUTCOMES = {"connected": 45, "no_answer": 28, "busy": 9, "refused": 10, "invalid": 8}
_AGENT_OUTCOMES = {"connected": 75, "no_answer": 15, "busy": 5, "refused": 5}
DIAL_P, ROBOT_TRIES, RETRY_P, AGENT_P = .98, 3, .7, .4
MOVES_MAX, MORE_MOVES_P, OUT_P = 4, .35, .2  # deposits and withdrawals per account
TRADES_MAX, TRADE_P, MORE_TRADES_P = 5, .7, .5
# Weights of catalogue.ASSET_CLASSES (holdings) and catalogue.PRODUCTS (trades) per segment.
HOLDING_MIX = {"trading": (60, 10, 5, 5, 20), "wealth": (5, 25, 45, 10, 15),
              "allocation": (20, 30, 15, 25, 10)}
_PRODUCT_MIX = {"trading": (70, 10, 5, 5, 10), "wealth": (5, 25, 55, 10, 5),
                "allocation": (20, 35, 15, 25, 5)}
LEVEL_FLOORS_CNY = (0, 10_000, 50_000, 100_000, 300_000, 500_000, 1_000_000, 5_000_000)  # V0..V7


def _table(weights: dict) -> tuple[tuple, tuple[float, ...]]:
    """(values, cumulative weights) for `pick`: faster than random.choices on a hot path."""
    return tuple(weights), tuple(itertools.accumulate(weights.values()))


def pick(rng: random.Random, table: tuple[tuple, tuple[float, ...]]):
    values, cumulative = table
    return values[bisect(cumulative, rng.random() * cumulative[-1])]


def one(rng: random.Random, values: tuple):
    """Uniform choice; cheaper than rng.choice on a hot path."""
    return values[int(rng.random() * len(values))]


CHANNEL_TABLE, PROVINCE_TABLE = _table({c: c.share for c in _CHANNELS}), _table(_PROVINCES)
ROBOT_TABLE, AGENT_TABLE = _table(_ROBOT_OUTCOMES), _table(_AGENT_OUTCOMES)
DEVICE_TABLES = {c.code: _table(dict(zip(catalogue.DEVICES, c.devices, strict=True))) for c in _CHANNELS}
SEGMENT_TABLES = {c.code: _table(dict(zip(catalogue.SEGMENTS, c.segments, strict=True))) for c in _CHANNELS}
PRODUCT_TABLES = {segment: _table(dict(zip(catalogue.PRODUCTS, mix, strict=True)))
                  for segment, mix in _PRODUCT_MIX.items()}
# P(a lead who completed step k attempts step k+1), per channel; index k-1.
CONVERSIONS = {c.code: tuple(min(.995, max(.3, 1 - d * c.quality)) for d in _DROP) for c in _CHANNELS}


def _expected_events(channel: Channel) -> float:
    """Events one lead of this channel produces on average: turns the events/s target into a lead rate.
    Mirrors the Simulator's actions (ecc.sim.simulate); a test checks the realised daily rate against the
    configured one."""
    robot_calls, robot_connected, reached = 0.0, 0.0, 1.0
    total = sum(_ROBOT_OUTCOMES.values())
    for _ in range(ROBOT_TRIES):
        robot_calls += reached
        robot_connected += reached * _ROBOT_OUTCOMES["connected"] / total
        reached *= (_ROBOT_OUTCOMES["no_answer"] + _ROBOT_OUTCOMES["busy"]) / total * RETRY_P
    events = 1 + DIAL_P * (robot_calls + robot_connected * AGENT_P) + channel.start
    reach = channel.start
    for step, p in enumerate(CONVERSIONS[channel.code], 1):
        rate, retry = REVIEWS[step + 1][:2] if step + 1 in REVIEWS else (0, 0)
        events += reach * p * (1 + rate * retry)
        reach *= p * (1 - rate * (1 - retry))
    moves = channel.deposit * sum(MORE_MOVES_P ** i for i in range(MOVES_MAX))
    trades = channel.deposit * TRADE_P * sum(MORE_TRADES_P ** i for i in range(TRADES_MAX))
    return events + reach * (2 * moves + trades)  # every money movement is followed by an asset snapshot


EVENTS_PER_LEAD = sum(c.share * _expected_events(c) for c in _CHANNELS)

# exp(sigma * z) at 1024 normal quantiles: a look-up is several times faster than random.gauss, and the
# tails are cut at ~3.3 sigma, which also caps how long a journey can stay in flight.
_Z = tuple(NormalDist().inv_cdf((i + .5) / 1024) for i in range(1024))
_SPREAD = {sigma: tuple(math.exp(sigma * z) for z in _Z) for sigma in (.8, 1.0, 1.2)}


def lognormal(rng: random.Random, median: float, sigma: float = .8) -> int:
    return int(median * _SPREAD[sigma][int(rng.random() * 1024)])


def cents_text(cents: int) -> str:
    return f"{cents // 100}.{cents % 100:02d}"


def deposit_cents(rng: random.Random, first: bool) -> int:
    """Log-normal within 1k..500k CNY, people mostly typing round amounts; 1% of new accounts are wealthy
    clients moving 1M..10M in from another broker, so that the top levels V5..V7 are not empty."""
    if first and rng.random() < .01:
        return min(10_000_000, max(1_000_000, lognormal(rng, 2_500_000, .8))) // 10_000 * 1_000_000
    while not 1_000 <= (amount := lognormal(rng, 20_000 if first else 10_000, 1.2)) <= 500_000:
        pass
    roll = rng.random()
    if roll < .85:
        return max(1_000, round(amount, -3 if roll < .55 else -2)) * 100
    return amount * 100 + int(rng.random() * 100)

