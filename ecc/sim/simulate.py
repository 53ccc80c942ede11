"""A believable, deterministic day of an internet branch: raw events exactly as upstream systems send them.

Leads arrive as a Poisson process whose intensity follows a Shanghai diurnal curve. Each lead then runs
small threads (outbound calls, the 11-step opening flow, and after opening deposits, asset snapshots and
trades) as chains of scheduled actions: an action emits one event and schedules its thread's next action.
Only journeys in flight are held, not a day of future events, so a long live run stays memory-bounded, and
the output is the same however the caller slices time into `advance` windows. The business model (its
parameters and sampling helpers) lives in `ecc.sim.sim_model`.

Transport noise (late, duplicated and malformed inputs, the last made by `ecc.sim.sim_noise`) draws from its
own random stream, so switching it on adds noise around exactly the same business facts. The wire form of
the output (timestamps, JSON lines) is `ecc.sim.sim_wire`'s, shared with `ecc.sim.sim_noise`.
"""

from __future__ import annotations

import gc
import hashlib
import heapq
import itertools
import logging
import math
import random
from bisect import bisect
from collections import defaultdict
from collections.abc import Iterator
from datetime import date
from operator import itemgetter

from ecc import timeutil
from ecc.contract import catalogue
from ecc.sim import sim_model as model
from ecc.sim.sim_config import Anomaly, SimConfig, parse_anomaly
from ecc.sim.sim_model import DAY, DIURNAL, EVENTS_PER_LEAD, HOUR, MINUTE, SECOND, minute_of_day
from ecc.sim.sim_noise import BAD_KINDS, malformed
from ecc.sim.sim_wire import Item, is_bad, iso, to_line

__all__ = ["BAD_KINDS", "DAY", "DIURNAL", "EVENTS_PER_LEAD", "HOUR", "MINUTE", "SECOND", "Anomaly", "Item",
           "SimConfig", "Simulator", "day", "day_bounds", "diurnal", "generate", "is_bad", "iso", "malformed",
           "parse_anomaly", "to_line"]

log = logging.getLogger(__name__)


def diurnal(ts_ms: int) -> float:
    """Relative lead intensity at an instant (mean 1 over a Shanghai day)."""
    return DIURNAL[minute_of_day(ts_ms)]


# ---- the simulator ----

_ARRIVE, _CALL, _STEP, _DEPOSIT, _ASSET, _TRADE = range(6)  # indexes of Simulator._actions
_due = itemgetter(0)


class _Journey:
    __slots__ = ("account_id", "agent_called", "balance", "channel", "lead_id", "moves", "next_out",
                 "next_product", "province", "retried", "robot_calls", "segment", "step", "trades")

    def __init__(self, channel: model.Channel, lead_id: str, province: str) -> None:
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
            rate = (self._leads_per_ms * DIURNAL[minute_of_day(int(t))] * model.day_level(int(t))
                    * (self.config.surge if surged else 1))
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
        channel = model.pick(rng, model.CHANNEL_TABLE)
        journey = _Journey(channel, self._id("L"), model.pick(rng, model.PROVINCE_TABLE))
        phone = f"{model.one(rng, model.MOBILE_PREFIXES)}{int(rng.random() * 1e8):08d}"
        self._emit(ts, {"event_id": self._id("l"), "type": "lead", "ts": iso(ts), "lead_id": journey.lead_id,
                        "channel": channel.code, "campaign": model.one(rng, model.CAMPAIGNS[channel.code]),
                        "province": journey.province,
                        "device": model.pick(rng, model.DEVICE_TABLES[channel.code]), "phone": phone})
        if rng.random() < model.DIAL_P:
            at_once = ts + model.lognormal(rng, 3 * MINUTE) + SECOND
            due = model.defer(at_once, model.CALL_HOURS, rng.random())
            if due != at_once and rng.random() < model.NIGHT_ROBOT_P:  # drawn only at night
                due = at_once
            self._push(due, _CALL, journey)
        if rng.random() < channel.start:
            self._push(ts + model.lognormal(rng, 30 * SECOND) + SECOND, _STEP, journey)

    def _call(self, journey: _Journey, ts: int) -> None:
        rng = self._rng
        by = "agent" if journey.agent_called else "robot"
        outcome = model.pick(rng, model.AGENT_TABLE if journey.agent_called else model.ROBOT_TABLE)
        self._emit(ts, {"event_id": self._id("c"), "type": "call", "ts": iso(ts), "lead_id": journey.lead_id,
                        "channel": journey.channel.code, "outcome": outcome, "by": by})
        if journey.agent_called:
            return  # one agent call closes the thread
        journey.robot_calls += 1
        if outcome == "connected":
            if rng.random() < model.AGENT_P:  # an interested lead is handed to a human agent
                journey.agent_called = True
                due = model.defer(ts + model.lognormal(rng, 15 * MINUTE) + SECOND, model.CALL_HOURS,
                                  rng.random())
                self._push(due, _CALL, journey)
        elif outcome in ("no_answer", "busy") and journey.robot_calls < model.ROBOT_TRIES \
                and rng.random() < model.RETRY_P:
            due = model.defer(ts + model.lognormal(rng, HOUR), model.CALL_HOURS, rng.random())
            self._push(due, _CALL, journey)

    def _step(self, journey: _Journey, ts: int) -> None:
        rng = self._rng
        step = journey.step + 1
        event = {"event_id": self._id("s"), "type": "step", "ts": iso(ts), "lead_id": journey.lead_id,
                 "channel": journey.channel.code, "step": step}
        review = model.REVIEWS.get(step)
        if review and not journey.retried and rng.random() < review[0]:
            event.update(status="rejected", reason=model.one(rng, review[3]))
            self._emit(ts, event)
            if rng.random() < review[1]:
                journey.retried = True
                self._push(ts + model.lognormal(rng, review[2] * SECOND) + SECOND, _STEP, journey)
            return
        journey.retried, journey.step = False, step
        if step == catalogue.OPENED_STEP:
            journey.account_id = event["account_id"] = self._id("A")
            self._emit(ts, event)
            journey.segment = model.pick(rng, model.SEGMENT_TABLES[journey.channel.code])
            if rng.random() < journey.channel.deposit:
                self._push(ts + model.lognormal(rng, 20 * MINUTE) + SECOND, _DEPOSIT, journey)
            return
        self._emit(ts, event)
        p = model.CONVERSIONS[journey.channel.code][step - 1]
        anomaly = self._anomaly
        if anomaly and anomaly.step == step and anomaly.channel == journey.channel.code \
                and (anomaly.from_ms is None or ts >= anomaly.from_ms):
            p *= anomaly.factor
        if rng.random() < p:
            due = ts + model.lognormal(rng, model.GAP_S[step - 1] * SECOND) + SECOND
            if step + 1 == catalogue.OPENED_STEP:
                due = model.defer(due, model.REVIEW_HOURS, rng.random())
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
            event.update(amount=model.cents_text(cents), direction="out")
        else:
            cents = model.deposit_cents(rng, first)
            journey.balance += cents
            event["amount"] = model.cents_text(cents)
            if first:
                event["first"] = True
        self._emit(ts, event)
        self._push(ts + int(rng.uniform(1, 10) * MINUTE), _ASSET, journey)
        if first and rng.random() < model.TRADE_P:
            self._schedule_trade(journey, ts)
        if journey.moves < model.MOVES_MAX and rng.random() < model.MORE_MOVES_P:
            journey.next_out = rng.random() < model.OUT_P
            self._push(ts + model.lognormal(rng, 3 * HOUR, 1.0) + SECOND, _DEPOSIT, journey)

    def _asset(self, journey: _Journey, ts: int) -> None:
        """A snapshot whose holdings sum to the balance give or take market moves (-3%..+4%)."""
        rng = self._rng
        total = int(journey.balance * rng.uniform(.97, 1.04))
        weights = [w * rng.uniform(.5, 1.5) for w in model.HOLDING_MIX[journey.segment]]
        scale, holdings, allocated = total / sum(weights), {}, 0
        for cls, weight in zip(catalogue.ASSET_CLASSES[:-1], weights, strict=False):  # cash takes the rest
            if (cents := int(weight * scale)) > 0:
                holdings[cls], allocated = model.cents_text(cents), allocated + cents
        holdings["cash"] = model.cents_text(total - allocated)
        level = catalogue.LEVELS[bisect(model.LEVEL_FLOORS_CNY, total / 100) - 1]
        self._emit(ts, {"event_id": self._id("a"), "type": "asset", "ts": iso(ts),
                        "account_id": journey.account_id, "holdings": holdings, "level": level,
                        "segment": journey.segment, "province": journey.province})

    def _schedule_trade(self, journey: _Journey, ts: int) -> None:
        rng = self._rng
        journey.next_product = product = model.pick(rng, model.PRODUCT_TABLES[journey.segment])
        due = ts + model.lognormal(rng, 40 * MINUTE, 1.0) + SECOND
        if product in ("stock", "bond"):  # exchange-traded: in sessions only; fund orders come any time
            due = model.defer_to_weekday(due, model.SESSIONS, rng.random())
        self._push(due, _TRADE, journey)

    def _trade(self, journey: _Journey, ts: int) -> None:
        rng = self._rng
        cents = max(10_000, int(journey.balance * rng.uniform(.05, .6)))
        if journey.next_product in ("fund", "wealth"):
            cents = max(10_000, cents // 10_000 * 10_000)  # subscriptions come in round hundreds
        self._emit(ts, {"event_id": self._id("t"), "type": "trade", "ts": iso(ts),
                        "account_id": journey.account_id, "amount": model.cents_text(cents),
                        "product": journey.next_product})
        journey.trades += 1
        if journey.trades < model.TRADES_MAX and rng.random() < model.MORE_TRADES_P:
            self._schedule_trade(journey, ts)


# ---- conveniences ----

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
