"""Reference ("oracle") computation of every metric in the contract's metrics.md, in plain Python.

The real pipeline (Redis live counters, ClickHouse SQL) is compared against this module, so it is
written for obviousness, not speed, and it deliberately imports nothing from `ecc`: a shared bug
would make both sides agree while both are wrong. Standard library only; money is `Decimal`.

Input: accepted raw events (contract format, see events.md) in ARRIVAL order. The oracle applies the
de-duplication rule itself: the first event with a given `event_id` wins, later ones are dropped even
when their content differs. Rejected/invalid lines must be removed by the caller.

Interpretations where metrics.md is terse (the pipeline must follow the same ones):
- Channel of an event: its own `channel` if present; else for lead-keyed events (`call`) the channel of
  the lead's `lead` event; else for account-keyed events (`deposit`, `asset`, `trade`) the channel of
  the done step-11 event that opened the account.
- Province of an event: its own `province` if present (leads, and assets that carry one); else the
  province of the owning lead's `lead` event (steps and calls by `lead_id`; deposits, trades and
  assets without province via the lead that opened the account at step 11).
- "The lead's lead event" is its earliest `lead` event (by ts, then event_id); "the step-11 event of an
  account" is its earliest done step-11 event. Attribution looks at the whole data set, not at `now`.
- "Of those X, the ones with any Y up to now" (dialed_leads, connected_leads, deposit_rate): the filters
  choose X; Y (calls, deposits) is then looked up for those X without being filtered again.
- AUM: per account the latest snapshot with ts < at is chosen first (by ts, then event_id), and only
  then filtered; an account that moved province is counted where its latest snapshot says it is.
  Missing level/segment/province/channel are grouped under "unknown".
- Cohort funnel, time to convert, drop-offs and series: see `window_funnel`, `Oracle.funnel`,
  `Oracle.dropped` and `Oracle.series`.
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from fractions import Fraction
from zoneinfo import ZoneInfo

SHANGHAI = ZoneInfo("Asia/Shanghai")
STEPS = tuple(range(1, 12))
ASSET_CLASSES = ("stock", "fund", "wealth", "bond", "cash")
UNKNOWN = "unknown"
ZERO = Decimal("0")
INTERVAL_MINUTES = {"1m": 1, "5m": 5, "1h": 60, "1d": 24 * 60}


# --- Value parsing ---------------------------------------------------------------------------------

def parse_ts(value: str | datetime) -> datetime:
    """An aware datetime from an ISO-8601 string with offset (or an aware datetime)."""
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(value)
    if moment.tzinfo is None:
        raise ValueError(f"timestamp without UTC offset: {value!r}")
    return moment


def to_decimal(value: str | int | float | Decimal) -> Decimal:
    """Exact Decimal; a JSON float such as 512.3 becomes Decimal('512.3'), not its binary expansion."""
    if isinstance(value, bool):
        raise TypeError("a boolean is not an amount")
    if isinstance(value, float):
        return Decimal(repr(value))
    return Decimal(value)


def ratio(numerator: int | Decimal, denominator: int | Decimal) -> float | None:
    """numerator / denominator as a correctly rounded float; None when the denominator is 0."""
    if denominator == 0:
        return None
    return float(Fraction(numerator) / Fraction(denominator))


def _order(event: dict) -> tuple[datetime, str]:
    """Time order used for "earliest"/"latest": by ts (the instant), then event_id."""
    return event["ts"], event["event_id"]


def _normalize(raw: dict) -> dict:
    """A copy of a raw event with ts parsed, money as Decimal and the contract defaults applied."""
    event = dict(raw)
    event["ts"] = parse_ts(raw["ts"])
    if event["type"] == "step":
        event["step"] = int(raw["step"])
        event["status"] = raw.get("status") or "done"
    elif event["type"] == "deposit":
        event["amount"] = to_decimal(raw["amount"])
        event["direction"] = raw.get("direction") or "in"
        event["first"] = bool(raw.get("first", False))
    elif event["type"] == "trade":
        event["amount"] = to_decimal(raw["amount"])
    elif event["type"] == "asset":
        event["holdings"] = {cls: to_decimal(v) for cls, v in (raw.get("holdings") or {}).items()}
    return event


def _is_done_step(event: dict, step: int | None = None) -> bool:
    return (event["type"] == "step" and event["status"] == "done"
            and (step is None or event["step"] == step))


# --- ClickHouse windowFunnel, default mode ---------------------------------------------------------

def window_funnel(steps: list[tuple[datetime, int]], window: timedelta, levels: int = 11):
    """Max level of windowFunnel(window)(ts, step = 1, ..., step = levels), default mode (no strict_*).

    Mirrors ClickHouse's getEventLevelNonStrictOnce: events are stably sorted by (timestamp, condition
    index), so on equal timestamps step 1 comes before step 2 and ties are allowed. A step-1 event
    (re)starts the level-1 chain at its own ts. A step-k event (k > 1) extends the chain currently held
    at level k-1 if ts <= that chain's start + window (inclusive), and then holds level k with the same
    start. The result is the highest level held. Time is compared exactly (microseconds); ClickHouse
    takes integer timestamps, which matches for millisecond timestamps with the window in ms, while a
    second-truncated DateTime can differ when a gap is within one second of the window.

    Returns (level, completion) where completion = (chain start ts, ts of the step that completed the
    chain) when level == levels, else None.
    """
    chains: list[tuple[datetime, datetime] | None] = [None] * levels  # (chain start, last matched ts)
    for ts, step in sorted(steps):
        if step == 1:
            chains[0] = (ts, ts)
        elif 1 < step <= levels and chains[step - 2] is not None:
            chain_start = chains[step - 2][0]
            if ts <= chain_start + window:
                chains[step - 1] = (chain_start, ts)
                if step == levels:  # ClickHouse returns as soon as the last level is reached
                    return levels, chains[step - 1]
    level = max((k for k in range(1, levels + 1) if chains[k - 1] is not None), default=0)
    return level, None


# --- The oracle ------------------------------------------------------------------------------------

class Oracle:
    """Every metric of metrics.md, computed from a list of accepted raw events in arrival order."""

    def __init__(self, events: list[dict]):
        seen: set[str] = set()
        self.events: list[dict] = []  # de-duplicated, normalized, still in arrival order
        for raw in events:
            if raw["event_id"] in seen:
                continue  # a redelivery: the first arrival wins, whatever the later one says
            seen.add(raw["event_id"])
            self.events.append(_normalize(raw))
        self._lead_event: dict[str, dict] = {}  # lead_id -> its earliest lead event
        self._opener: dict[str, dict] = {}  # account_id -> its earliest done step-11 event
        for event in sorted(self.events, key=_order):
            if event["type"] == "lead":
                self._lead_event.setdefault(event["lead_id"], event)
            elif _is_done_step(event, 11) and event.get("account_id"):
                self._opener.setdefault(event["account_id"], event)

    # -- attribution and selection -----------------------------------------------------------------

    def _owning_lead_event(self, event: dict) -> dict | None:
        if "lead_id" in event:
            return self._lead_event.get(event["lead_id"])
        opener = self._opener.get(event.get("account_id"))
        return self._lead_event.get(opener["lead_id"]) if opener else None

    def channel_of(self, event: dict) -> str | None:
        """The event's own channel, else its lead's (lead-keyed) or its account opener's (account-keyed)."""
        if event.get("channel"):
            return event["channel"]
        if "lead_id" in event:
            owner = self._lead_event.get(event["lead_id"])
        else:
            owner = self._opener.get(event.get("account_id"))
        return owner.get("channel") if owner else None

    def province_of(self, event: dict) -> str | None:
        """The event's own province, else the province of its owning lead's lead event."""
        if event.get("province"):
            return event["province"]
        lead = self._owning_lead_event(event)
        return lead.get("province") if lead else None

    def _passes(self, event: dict, channels: set[str] | None, provinces: set[str] | None) -> bool:
        return ((channels is None or self.channel_of(event) in channels)
                and (provinces is None or self.province_of(event) in provinces))

    def _select(self, event_type: str, start: datetime, end: datetime,
                channels: set[str] | None = None, provinces: set[str] | None = None) -> list[dict]:
        """Events of one type with ts in [start, end) that pass the filters."""
        return [e for e in self.events
                if e["type"] == event_type and start <= e["ts"] < end
                and self._passes(e, channels, provinces)]

    def _before(self, event_type: str, now: datetime | None) -> list[dict]:
        """Events of one type with ts < now (all of them when now is None), unfiltered."""
        return [e for e in self.events if e["type"] == event_type and (now is None or e["ts"] < now)]

    # -- KPIs --------------------------------------------------------------------------------------

    def kpis(self, start: datetime, end: datetime, channels: set[str] | None = None,
             provinces: set[str] | None = None, now: datetime | None = None) -> dict:
        """All period KPIs of metrics.md for [start, end); "up to now" means ts < now (None: no limit)."""
        lead_ids = {e["lead_id"] for e in self._select("lead", start, end, channels, provinces)}
        calls = self._before("call", now)
        dialed = lead_ids & {c["lead_id"] for c in calls}
        connected = lead_ids & {c["lead_id"] for c in calls if c["outcome"] == "connected"}

        steps = self._select("step", start, end, channels, provinces)
        reach = {str(k): len({e["lead_id"] for e in steps if _is_done_step(e, k)}) for k in STEPS}
        rejects = {str(k): sum(1 for e in steps if e["step"] == k and e["status"] == "rejected")
                   for k in STEPS}

        deposits = self._select("deposit", start, end, channels, provinces)
        deposit_in = sum((d["amount"] for d in deposits if d["direction"] == "in"), ZERO)
        deposit_out = sum((d["amount"] for d in deposits if d["direction"] == "out"), ZERO)
        first_accounts = {d["account_id"] for d in deposits if d["direction"] == "in" and d["first"]}
        opened_accounts = {e["account_id"] for e in steps if _is_done_step(e, 11)}
        funded_accounts = {d["account_id"] for d in self._before("deposit", now) if d["direction"] == "in"}

        aum_total = self.aum(end, channels, provinces)["total"]
        trades = self._select("trade", start, end, channels, provinces)
        trade_total = sum((t["amount"] for t in trades), ZERO)
        return {
            "leads": len(lead_ids),
            "dialed_leads": len(dialed),
            "dial_rate": ratio(len(dialed), len(lead_ids)),
            "connected_leads": len(connected),
            "reach": reach,
            "step_conversion": {str(k): ratio(reach[str(k + 1)], reach[str(k)]) for k in STEPS[:-1]},
            "opened": reach["11"],
            "open_rate": ratio(reach["11"], len(lead_ids)),
            "rejects": rejects,
            "reject_rate": {str(k): ratio(rejects[str(k)], reach[str(k)] + rejects[str(k)]) for k in STEPS},
            "first_deposits": len(first_accounts),
            "deposit_amount": deposit_in,
            "net_inflow": deposit_in - deposit_out,
            "deposit_rate": ratio(len(opened_accounts & funded_accounts), len(opened_accounts)),
            "aum": aum_total,
            "turnover_rate": ratio(trade_total, aum_total),
            "wealth_preference": _shares(trades),
        }

    def wealth_preference_by_segment(self, start: datetime, end: datetime, channels: set[str] | None = None,
                                     provinces: set[str] | None = None) -> dict[str, dict[str, float]]:
        """segment -> product -> share of trade amount; the segment is that of the account's latest
        asset snapshot before `end` (the one AUM uses), "unknown" without one."""
        latest = self._latest_snapshots(end)
        by_segment: dict[str, list[dict]] = defaultdict(list)
        for trade in self._select("trade", start, end, channels, provinces):
            snapshot = latest.get(trade["account_id"], {})
            by_segment[snapshot.get("segment") or UNKNOWN].append(trade)
        return {segment: _shares(trades) for segment, trades in by_segment.items()}

    # -- AUM ---------------------------------------------------------------------------------------

    def _latest_snapshots(self, at: datetime) -> dict[str, dict]:
        """account_id -> its latest asset snapshot with ts < at (by ts, then event_id)."""
        latest: dict[str, dict] = {}
        for snapshot in self._before("asset", at):
            current = latest.get(snapshot["account_id"])
            if current is None or _order(snapshot) > _order(current):
                latest[snapshot["account_id"]] = snapshot
        return latest

    def aum(self, at: datetime, channels: set[str] | None = None,
            provinces: set[str] | None = None) -> dict:
        """AUM from each account's latest snapshot with ts < at: total and breakdowns, all Decimal."""
        result = {"total": ZERO, "by_class": {cls: ZERO for cls in ASSET_CLASSES}, "by_level": {},
                  "by_segment": {}, "by_province": {}, "by_channel": {}}
        for snapshot in self._latest_snapshots(at).values():
            if not self._passes(snapshot, channels, provinces):
                continue
            value = sum(snapshot["holdings"].values(), ZERO)
            result["total"] += value
            for cls, amount in snapshot["holdings"].items():
                result["by_class"][cls] = result["by_class"].get(cls, ZERO) + amount
            for key, label in (("by_level", snapshot.get("level")), ("by_segment", snapshot.get("segment")),
                               ("by_province", self.province_of(snapshot)),
                               ("by_channel", self.channel_of(snapshot))):
                label = label or UNKNOWN
                result[key][label] = result[key].get(label, ZERO) + value
        return result

    # -- cohort funnel -----------------------------------------------------------------------------

    def _cohort_levels(self, start: datetime, end: datetime, window_hours: float,
                       channels: set[str] | None, provinces: set[str] | None) -> dict[str, dict]:
        """lead_id -> {level, completion, steps} for leads whose first done step-1 ts is in [start, end).

        windowFunnel runs over ALL of the lead's done step events that pass the filters (no time bound),
        so a later step 1 may restart the chain. A SQL version that bounds the scan (say to
        [start, end + window)) agrees unless a lead restarts step 1 after end and converts later.
        """
        steps_by_lead: dict[str, list[dict]] = defaultdict(list)
        for event in self.events:
            if _is_done_step(event) and self._passes(event, channels, provinces):
                steps_by_lead[event["lead_id"]].append(event)
        window = timedelta(hours=window_hours)
        cohort = {}
        for lead_id, steps in steps_by_lead.items():
            step1s = sorted((e for e in steps if e["step"] == 1), key=_order)
            if not step1s or not start <= step1s[0]["ts"] < end:
                continue
            level, completion = window_funnel([(e["ts"], e["step"]) for e in steps], window)
            cohort[lead_id] = {"level": level, "completion": completion, "steps": steps,
                               "first_step1": step1s[0]}
        return cohort

    def funnel(self, start: datetime, end: datetime, window_hours: float = 72,
               channels: set[str] | None = None, provinces: set[str] | None = None) -> dict:
        """Cohort funnel (windowFunnel semantics, see `window_funnel`) for leads whose first step 1 is in
        the period. time_to_convert_s is, per lead reaching level 11, the seconds from the start of the
        chain that reached level 11 to its step 11; it equals (first step 11 - first step 1) whenever the
        lead did step 1 once, and is never more than the window."""
        cohort = self._cohort_levels(start, end, window_hours, channels, provinces)
        counts = {str(k): sum(1 for lead in cohort.values() if lead["level"] >= k) for k in STEPS}
        return {
            "window_hours": window_hours,
            "cohort": counts,
            "overall_conversion": {str(k): ratio(counts[str(k)], counts["1"]) for k in STEPS},
            "step_conversion": {str(k): ratio(counts[str(k + 1)], counts[str(k)]) for k in STEPS[:-1]},
            "time_to_convert_s": sorted((lead["completion"][1] - lead["completion"][0]).total_seconds()
                                        for lead in cohort.values() if lead["level"] == 11),
        }

    def dropped(self, start: datetime, end: datetime, step: int, window_hours: float = 72,
                channels: set[str] | None = None, provinces: set[str] | None = None,
                idle_hours: float = 0, now: datetime | None = None) -> list[dict]:
        """Cohort leads whose furthest windowFunnel level is `step` (1..10) and whose last step is at least
        `idle_hours` before `now` (default: the clock), sorted by lead_id.

        channel = the channel of the lead's first done step-1 event; last_step_ts = the latest ts of any
        of its (filtered) done step events, i.e. when the lead was last seen in the flow."""
        if step not in STEPS[:-1]:
            raise ValueError(f"step must be 1..10, got {step}")
        cohort = self._cohort_levels(start, end, window_hours, channels, provinces)
        idle_since = (now or datetime.now(UTC)) - timedelta(hours=idle_hours)
        rows = [{"lead_id": lead_id, "channel": lead["first_step1"]["channel"], "furthest_step": step,
                 "last_step_ts": max(e["ts"] for e in lead["steps"])}
                for lead_id, lead in sorted(cohort.items()) if lead["level"] == step]
        return [row for row in rows if row["last_step_ts"] <= idle_since]

    # -- time series -------------------------------------------------------------------------------

    def _series_items(self, metric: str, start: datetime, end: datetime, channels, provinces):
        """(kind, [(event, value)]): kind 'distinct' counts distinct values, 'sum' adds them up."""
        def select(event_type):
            return self._select(event_type, start, end, channels, provinces)
        if metric == "leads":
            return "distinct", [(e, e["lead_id"]) for e in select("lead")]
        if metric == "opened":
            metric = "reach_11"
        if metric.startswith("reach_") and metric[6:].isdigit() and int(metric[6:]) in STEPS:
            k = int(metric[6:])
            return "distinct", [(e, e["lead_id"]) for e in select("step") if _is_done_step(e, k)]
        if metric == "first_deposits":
            return "distinct", [(d, d["account_id"]) for d in select("deposit")
                                if d["direction"] == "in" and d["first"]]
        if metric == "deposit_amount":
            return "sum", [(d, d["amount"]) for d in select("deposit") if d["direction"] == "in"]
        if metric == "net_inflow":
            return "sum", [(d, d["amount"] if d["direction"] == "in" else -d["amount"])
                           for d in select("deposit")]
        if metric == "trade_amount":
            return "sum", [(t, t["amount"]) for t in select("trade")]
        if metric == "calls":
            return "sum", [(c, 1) for c in select("call")]
        raise ValueError(f"unknown series metric: {metric}")

    def series(self, metric: str, interval: str, start: datetime, end: datetime,
               channels: set[str] | None = None, provinces: set[str] | None = None) -> dict[datetime, object]:
        """metric per bucket for events with ts in [start, end); every bucket from floor(start) up to end
        is present (zero-filled). Keys are Shanghai-aware bucket starts. Metrics: leads, opened, reach_<k>,
        first_deposits, calls (int) and deposit_amount, net_inflow, trade_amount (Decimal)."""
        kind, items = self._series_items(metric, start, end, channels, provinces)
        zero = ZERO if metric in ("deposit_amount", "net_inflow", "trade_amount") else 0
        buckets: dict[datetime, object] = {}
        bucket = floor_bucket(start, interval)
        while bucket < end:
            buckets[bucket] = set() if kind == "distinct" else zero
            bucket = next_bucket(bucket, interval)
        for event, value in items:
            key = floor_bucket(event["ts"], interval)
            if kind == "distinct":
                buckets[key].add(value)
            else:
                buckets[key] += value
        return {key: len(v) if kind == "distinct" else v for key, v in buckets.items()}


def _shares(trades: list[dict]) -> dict[str, float]:
    """product -> share of the trades' total amount ({} without trades)."""
    by_product: dict[str, Decimal] = defaultdict(lambda: ZERO)
    for trade in trades:
        by_product[trade["product"]] += trade["amount"]
    total = sum(by_product.values(), ZERO)
    return {product: ratio(amount, total) for product, amount in by_product.items()} if total else {}


def floor_bucket(ts: datetime, interval: str) -> datetime:
    """Start of the bucket holding ts, in Asia/Shanghai wall time (1d = Shanghai midnight)."""
    size = INTERVAL_MINUTES[interval]
    local = ts.astimezone(SHANGHAI)
    minute_of_day = (local.hour * 60 + local.minute) // size * size
    return local.replace(hour=minute_of_day // 60, minute=minute_of_day % 60, second=0, microsecond=0)


def next_bucket(bucket: datetime, interval: str) -> datetime:
    # Shanghai has had no DST since 1991, so adding wall-clock minutes is exact.
    return bucket + timedelta(minutes=INTERVAL_MINUTES[interval])


# --- Test-data builder (auto event_ids; pass event_id=... to force one, e.g. to make a duplicate) ---

_ids = itertools.count(1)


def _event(prefix: str, event_type: str, ts: str | datetime, fields: dict) -> dict:
    stamp = ts.isoformat() if isinstance(ts, datetime) else ts
    return {"event_id": f"{prefix}-{next(_ids):06d}", "type": event_type, "ts": stamp, **fields}


def account_for(lead_id: str) -> str:
    """The account_id that `make_step(..., 11)` and `journeys` give the account a lead opens."""
    return f"A-{lead_id}"


def make_lead(lead_id, ts, channel="douyin", **fields) -> dict:
    return _event("l", "lead", ts, {"lead_id": lead_id, "channel": channel, **fields})


def make_step(lead_id, step, ts, channel="douyin", status="done", **fields) -> dict:
    if step == 11 and status == "done":
        fields.setdefault("account_id", account_for(lead_id))
    return _event("s", "step", ts, {"lead_id": lead_id, "channel": channel, "step": step, "status": status,
                                    **fields})


def make_call(lead_id, ts, outcome="connected", **fields) -> dict:
    return _event("c", "call", ts, {"lead_id": lead_id, "outcome": outcome, **fields})


def make_deposit(account_id, ts, amount, direction="in", first=False, **fields) -> dict:
    return _event("d", "deposit", ts, {"account_id": account_id, "amount": amount, "direction": direction,
                                       "first": first, **fields})


def make_asset(account_id, ts, holdings, **fields) -> dict:
    return _event("a", "asset", ts, {"account_id": account_id, "holdings": holdings, **fields})


def make_trade(account_id, ts, amount, product, **fields) -> dict:
    return _event("t", "trade", ts, {"account_id": account_id, "amount": amount, "product": product,
                                     **fields})


def journeys(spec: dict[str, list[tuple]], channel: str = "douyin", province: str | None = None,
             lead_ts: datetime | None = None) -> list[dict]:
    """Lead + step events for several leads, PostHog-style.

    spec: lead_id -> [(step, ts) or (step, ts, "rejected"), ...]. Each lead gets one lead event at
    lead_ts (default: its earliest step ts); a done step 11 opens account `account_for(lead_id)`.
    """
    events = []
    for lead_id, steps in spec.items():
        first_ts = lead_ts or min(parse_ts(s[1]) if isinstance(s[1], str) else s[1] for s in steps)
        lead_fields = {"province": province} if province else {}
        events.append(make_lead(lead_id, first_ts, channel=channel, **lead_fields))
        for step, ts, *rest in steps:
            status = rest[0] if rest else "done"
            events.append(make_step(lead_id, step, ts, channel=channel, status=status))
    return events
