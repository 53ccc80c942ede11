"""Every metric of docs/metrics.md from ClickHouse (history and drill-down; Redis serves the wall).

Functions take a clickhouse-connect client (`ecc.olap.clickhouse.connect`), a period `[start, end)` of aware
datetimes and filters (`channels`, `provinces`: empty means all), and return plain Python: `int`
counts, `Decimal` money, `float` ratios or `None` when the denominator is 0, and times as ISO-8601
strings in Asia/Shanghai (`2026-11-21T09:30:00.000+08:00`).

Attribution (metrics.md "Filters"), the same in every query of queries/:
- channel: the event's own `channel`; else, for call events, the channel of the lead's first `lead`
  event; for deposit, asset and trade events, the channel of the first done step-11 event that names
  the account (the lead that opened it). An account never opened has no channel: "unknown" in
  breakdowns and per-channel rows, and no channel filter selects it.
- province: the event's own `province` (lead and asset events have one); else the province of the
  lead's first `lead` event, where the lead of an account event is the lead that opened the account.
  "First" is by (ts, event_id); the queries read these first events from the rollups `lead_attrs` and
  `account_attrs` (queries/schema.sql), kept by materialized views, rather than scanning `events`.
- A filter applies to the events counted: `leads` by the lead event, `reach`/`rejects` by the step
  event, money by the deposit/trade event, AUM by each account's latest snapshot (chosen first, then
  filtered), the cohort funnel by the lead's first step-1 event. `dialed_leads`/`deposit_rate` look
  at calls and deposits (ts < now) of the selected leads/accounts without filtering them again.

Duplicates: distinct counts are immune to a duplicate event row; counts of events use distinct
event_ids, and sums read `FROM events FINAL` (measured faster on chDB than `LIMIT 1 BY event_id`).
Days and buckets are Asia/Shanghai in SQL (explicit zone arguments) whatever the server's time zone.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from ecc.contract import catalogue, metrics
from ecc.contract.metrics import ratio as _ratio  # the cohort funnel's conversions below
from ecc.olap.clickhouse import query_rows
from ecc.olap.query_params import filters_of, iso_ms, period, rollup_hours, utc
from ecc.timeutil import TZ

log = logging.getLogger(__name__)

ZERO = Decimal("0.00")
UNKNOWN = "unknown"  # the label of a missing channel, province, level or segment in breakdowns
STEPS = catalogue.STEPS
ASSET_CLASSES = catalogue.ASSET_CLASSES


# ---- KPIs (GET /kpis) and per channel (GET /channels) ----

@dataclass
class _Totals:
    """Raw counts and sums of one group (all selected events, or one channel)."""

    leads: int = 0
    dialed_leads: int = 0
    connected_leads: int = 0
    reach: dict[int, int] = field(default_factory=lambda: dict.fromkeys(STEPS, 0))
    rejects: dict[int, int] = field(default_factory=lambda: dict.fromkeys(STEPS, 0))
    opened_accounts: int = 0
    deposited_accounts: int = 0
    first_deposits: int = 0
    deposit_in: Decimal = ZERO
    deposit_out: Decimal = ZERO
    trade_by_segment: dict[str, dict[str, Decimal]] = field(default_factory=dict)  # segment -> product
    aum: Decimal = ZERO

    def metrics(self, freshness_s: float | None) -> dict[str, Any]:
        """The KPI object of one group; every formula is ecc.contract.metrics' (the wall uses the same)."""
        reach, rejects = self.reach, self.rejects
        by_product: dict[str, Decimal] = {}
        for products in self.trade_by_segment.values():
            for product, amount in products.items():
                by_product[product] = by_product.get(product, ZERO) + amount
        trade_total = sum(by_product.values(), ZERO)
        return {
            "leads": self.leads,
            "dialed_leads": self.dialed_leads,
            "dial_rate": metrics.dial_rate(self.dialed_leads, self.leads),
            "connected_leads": self.connected_leads,
            "reach": {str(k): reach[k] for k in STEPS},
            "step_conversion": metrics.step_conversion(reach),
            "opened": reach[catalogue.OPENED_STEP],
            "open_rate": metrics.open_rate(reach[catalogue.OPENED_STEP], self.leads),
            "rejects": {str(k): rejects[k] for k in STEPS},
            "reject_rate": metrics.reject_rate(rejects, reach),
            "first_deposits": self.first_deposits,
            "deposit_amount": self.deposit_in,
            "net_inflow": metrics.net_inflow(self.deposit_in, self.deposit_out),
            "deposit_rate": metrics.deposit_rate(self.deposited_accounts, self.opened_accounts),
            "aum": self.aum,
            "turnover_rate": metrics.turnover_rate(trade_total, self.aum),
            # products traded in the period, by name; {} without trades (no share to show)
            "wealth_preference": metrics.wealth_preference(dict(sorted(by_product.items()))),
            # the same per segment of the trading account's latest snapshot before the end
            "wealth_preference_by_segment": {segment: metrics.wealth_preference(dict(sorted(by_seg.items())))
                                             for segment, by_seg in sorted(self.trade_by_segment.items())},
            "freshness_s": freshness_s,
        }


def _collect(client: Any, start: datetime, end: datetime, channels: Iterable[str] | None,
             provinces: Iterable[str] | None, by_channel: bool, now: datetime) -> dict[str, _Totals]:
    """Run the four KPI queries once and fold their rows into totals per group key."""
    filters = filters_of(channels, provinces)
    params = {**period(start, end), **filters, "by_channel": by_channel, "now": utc(now, "now"),
              "attribute": by_channel or bool(filters["channels"] or filters["provinces"])}
    groups: dict[str, _Totals] = {}

    def group(key: str) -> _Totals:
        return groups.setdefault(key, _Totals())

    for row in query_rows(client, "kpi_leads", params):
        totals = group(row["group_key"])
        totals.leads, totals.dialed_leads = row["leads"], row["dialed_leads"]
        totals.connected_leads = row["connected_leads"]
    # steps: own channel from the rollup; a province filter needs the lead's province (events only)
    steps_params = {**params, **rollup_hours(start, end, not filters["provinces"]),
                    "attribute": bool(filters["provinces"])}
    for row in query_rows(client, "kpi_steps", steps_params):
        totals = group(row["group_key"])
        if row["status"] == "done":
            totals.reach[row["step"]] = row["leads"]
            if row["step"] == catalogue.OPENED_STEP:
                totals.opened_accounts = row["accounts"]
                totals.deposited_accounts = row["deposited_accounts"]
        elif row["status"] == "rejected":
            totals.rejects[row["step"]] = row["events"]
    for row in query_rows(client, "kpi_money", {**params, "at": params["end"], "every_account": False}):
        totals = group(row["group_key"] or (UNKNOWN if by_channel else ""))
        if row["type"] == "trade":  # a snapshot without segment and one saying "unknown" add up
            products = totals.trade_by_segment.setdefault(row["segment"] or UNKNOWN, {})
            products[row["product"]] = products.get(row["product"], ZERO) + row["amount"]
        elif row["direction"] == "out":
            totals.deposit_out += row["amount"]
        else:
            totals.deposit_in += row["amount"]
            totals.first_deposits += row["first_accounts"]
    for row in _asset_rows(client, end, filters["channels"], filters["provinces"], params["attribute"]):
        key = (row["channel_key"] or UNKNOWN) if by_channel else ""
        group(key).aum += sum((row[cls] for cls in ASSET_CLASSES), ZERO)
    return groups


def freshness_s(client: Any, now: datetime | None = None) -> float | None:
    """now − the largest event ts in the store, in seconds (None when the store is empty).

    Not clamped: an event up to 5 minutes in the future is accepted, so this may be slightly negative.
    """
    moment = utc(now, "now") if now is not None else datetime.now(UTC)
    row = query_rows(client, "freshness", {})[0]
    if not row["events"]:
        return None
    return (moment.timestamp() * 1000 - row["max_ts_ms"]) / 1000


def kpis(client: Any, start: datetime, end: datetime, channels: Sequence[str] = (),
         provinces: Sequence[str] = (), now: datetime | None = None) -> dict[str, Any]:
    """Every KPI of metrics.md for [start, end) and the filters, plus `freshness_s`.

    `aum` is the total at `end`; `turnover_rate` = trades in the period / that AUM. "Up to now"
    (calls of dialed leads, deposits of opened accounts) means ts < `now` (default: the clock).
    """
    now = now or datetime.now(UTC)
    totals = _collect(client, start, end, channels, provinces, False, now).get("", _Totals())
    return totals.metrics(freshness_s(client, now))


def channels(client: Any, start: datetime, end: datetime, provinces: Sequence[str] = (),
             now: datetime | None = None) -> list[dict[str, Any]]:
    """One row per channel code with the same metrics as `kpis`, most leads first.

    Channel "unknown" collects money and assets of accounts no step-11 event attributes to a channel.
    """
    now = now or datetime.now(UTC)
    fresh = freshness_s(client, now)
    groups = _collect(client, start, end, (), provinces, True, now)
    rows = [{"channel": code, **totals.metrics(fresh)} for code, totals in groups.items()]
    return sorted(rows, key=lambda row: (-row["leads"], row["channel"]))


# ---- cohort funnel (GET /funnel, /funnel/dropped) ----

def _cohort_params(start: datetime, end: datetime, window_hours: float, channels: Iterable[str] | None,
                   provinces: Iterable[str] | None) -> dict[str, Any]:
    if window_hours <= 0:
        raise ValueError(f"window_hours must be > 0, got {window_hours!r}")
    filters = filters_of(channels, provinces)
    return {**period(start, end), **filters, "window_ms": int(window_hours * 3_600_000),
            "attribute": bool(filters["provinces"])}


def funnel(client: Any, start: datetime, end: datetime, window_hours: float = 72,
           channels: Sequence[str] = (), provinces: Sequence[str] = ()) -> dict[str, Any]:
    """Cohort funnel: leads whose first done step-1 event is in [start, end), windowFunnel levels.

    `cohort[k]` = cohort leads that completed steps 1..k in order within `window_hours` of step 1;
    `overall_conversion[k]` = cohort[k] / cohort[1]; `step_conversion[k]` = cohort[k+1] / cohort[k];
    `time_to_convert` = first step 11 − first step 1 of the leads that reached level 11 (seconds,
    exact quantiles with linear interpolation between order statistics, like numpy's default).
    """
    params = _cohort_params(start, end, window_hours, channels, provinces)
    stopped_at = dict.fromkeys(range(0, 12), 0)
    convert: dict[str, Any] = {"count": 0, "p50_s": None, "p90_s": None, "p99_s": None, "mean_s": None}
    for row in query_rows(client, "funnel", params):
        stopped_at[row["level"]] = row["leads"]
        if row["level"] == catalogue.OPENED_STEP:
            p50, p90, p99 = (q / 1000 for q in row["convert_quantiles_ms"])
            convert = {"count": row["leads"], "p50_s": p50, "p90_s": p90, "p99_s": p99,
                       "mean_s": row["convert_mean_ms"] / 1000}
    cohort = {k: sum(n for level, n in stopped_at.items() if level >= k) for k in STEPS}
    return {
        "window_hours": window_hours,
        "cohort": {str(k): cohort[k] for k in STEPS},
        "overall_conversion": {str(k): _ratio(cohort[k], cohort[1]) for k in STEPS},
        "step_conversion": {str(k): _ratio(cohort[k + 1], cohort[k]) for k in STEPS[:-1]},
        "time_to_convert": convert,
    }


def dropped(client: Any, start: datetime, end: datetime, step: int, window_hours: float = 72,
            channels: Sequence[str] = (), provinces: Sequence[str] = (),
            limit: int = 1000, idle_hours: float = 0, now: datetime | None = None) -> list[dict[str, Any]]:
    """Cohort leads (as in `funnel`) whose furthest step in the window is exactly `step` and whose last
    done step is at least `idle_hours` before `now` (default: the clock), newest first: the call-back list.

    Each row: lead_id, channel (of the first step-1 event), phone_masked and province (of the lead
    event), furthest_step, last_step_at (its last done step, ISO in Shanghai time), idle_hours (since then).
    """
    if not 1 <= step < catalogue.OPENED_STEP:
        raise ValueError(f"step must be 1..{catalogue.OPENED_STEP - 1}, got {step!r}")
    if idle_hours < 0:
        raise ValueError(f"idle_hours must be >= 0, got {idle_hours!r}")
    now_ms = int((now or datetime.now(UTC)).timestamp() * 1000)
    params = {**_cohort_params(start, end, window_hours, channels, provinces), "step": step,
              "limit": max(0, int(limit)),
              "idle_before_ms": now_ms - int(idle_hours * 3_600_000)}
    rows = query_rows(client, "dropped", params)
    # contacts of the listed leads only (a primary-key lookup), not of the whole cohort
    contacts = {row["lead_id"]: row for row in query_rows(
        client, "lead_contacts", {"lead_ids": [row["lead_id"] for row in rows]})} if rows else {}
    none = {"phone_masked": "", "province": ""}  # a lead without a lead event (yet)
    return [{"lead_id": row["lead_id"], "channel": row["channel"],
             "phone_masked": contacts.get(row["lead_id"], none)["phone_masked"],
             "province": contacts.get(row["lead_id"], none)["province"],
             "furthest_step": row["furthest_step"], "last_step_at": iso_ms(row["last_step_ms"]),
             "idle_hours": round((now_ms - row["last_step_ms"]) / 3_600_000, 2)}
            for row in rows]


# ---- assets (GET /assets) ----

def _asset_rows(client: Any, at: datetime, channels: list[str], provinces: list[str],
                attribute: bool = True) -> list[dict]:
    """AUM groups at `at`; without `attribute` channel/province are left blank (only totals wanted)."""
    return query_rows(client, "assets", {"at": utc(at, "at"), "every_account": True,
                                         "channels": channels, "provinces": provinces,
                                         "attribute": attribute or bool(channels or provinces)})


def assets(client: Any, at: datetime, channels: Sequence[str] = (),
           provinces: Sequence[str] = ()) -> dict[str, Any]:
    """AUM at `at`: each account's latest snapshot with ts < at, summed and broken down (a missing
    level, segment, province or channel is "unknown")."""
    filters = filters_of(channels, provinces)
    by_class = dict.fromkeys(ASSET_CLASSES, ZERO)
    breakdowns: dict[str, dict[str, Decimal]] = {"by_level": {}, "by_segment": {}, "by_province": {},
                                                 "by_channel": {}}
    keys = {"by_level": "level", "by_segment": "segment", "by_province": "province_key",
            "by_channel": "channel_key"}
    for row in _asset_rows(client, at, filters["channels"], filters["provinces"]):
        amount = ZERO
        for cls in ASSET_CLASSES:
            by_class[cls] += row[cls]
            amount += row[cls]
        for name, column in keys.items():
            breakdown, label = breakdowns[name], row[column] or UNKNOWN
            breakdown[label] = breakdown.get(label, ZERO) + amount
    return {"at": utc(at, "at").astimezone(TZ).isoformat(timespec="milliseconds"),
            "total": sum(by_class.values(), ZERO), "by_class": by_class,
            **{name: dict(sorted(values.items())) for name, values in breakdowns.items()}}


# ---- dead letters (GET /rejects) ----

def rejects(client: Any, limit: int = 100, offset: int = 0) -> dict[str, Any]:
    """Stored rejected events, newest first: total and one page of items."""
    total = query_rows(client, "rejects_total", {})[0]["total"]
    rows = query_rows(client, "rejects_page", {"limit": max(0, int(limit)), "offset": max(0, int(offset))})
    return {"total": total,
            "items": [{"received_at": iso_ms(row["received_ms"]), "reason": row["reason"],
                       "raw": row["raw"], "source": row["source"]} for row in rows]}
