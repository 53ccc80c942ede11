"""GET /series: one metric per Shanghai bucket (1m, 5m, 1h, 1d) beside the same buckets a day and a week
earlier. Whole hours of the distinct counts come from the rollup facts_hourly (queries/series_counts.sql), the
rest from the events (queries/series.sql); definitions as in ecc.olap.analytics."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from ecc.contract import catalogue
from ecc.olap.clickhouse import query_rows
from ecc.olap.query_params import filters_of, period, rollup_hours, utc
from ecc.timeutil import INTERVALS, TZ

log = logging.getLogger(__name__)
ZERO = Decimal("0.00")
STEPS = catalogue.STEPS


class UnknownMetric(ValueError):
    """A series metric or interval this module does not know."""


@dataclass(frozen=True)
class SeriesMetric:
    code: str  # the `metric` of series.sql
    types: tuple[str, ...]  # event types it reads
    money: bool = False  # value is the amount sum (Decimal) rather than the distinct count
    step: int = 0


SERIES_METRICS: dict[str, SeriesMetric] = {
    "leads": SeriesMetric("leads", ("lead",)),
    "dialed_leads": SeriesMetric("dialed_leads", ("lead",)),
    "opened": SeriesMetric("reach", ("step",), step=catalogue.OPENED_STEP),
    "first_deposits": SeriesMetric("first_deposits", ("deposit",)),
    "deposit_amount": SeriesMetric("deposit_amount", ("deposit",), money=True),
    "net_inflow": SeriesMetric("net_inflow", ("deposit",), money=True),
    "trade_amount": SeriesMetric("trade_amount", ("trade",), money=True),
    "calls": SeriesMetric("calls", ("call",)),
    **{f"reach_{k}": SeriesMetric("reach", ("step",), step=k) for k in STEPS},
}


def bucket_starts(interval: str, start: datetime, end: datetime) -> list[datetime]:
    """The Shanghai buckets of `interval` that overlap [start, end), in order (the first may begin
    before `start`). Aligned like ClickHouse toStartOfInterval/toStartOfDay in Asia/Shanghai."""
    step = INTERVALS[interval]
    local = utc(start, "start").astimezone(TZ)
    midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
    minutes = step // timedelta(minutes=1)
    if interval == "1d":
        first = midnight
    else:
        into_day = (local - midnight) // timedelta(minutes=1)
        first = midnight + timedelta(minutes=into_day - into_day % minutes)
    stop = utc(end, "end")
    out, bucket = [], first
    while bucket < stop:
        out.append(bucket)
        bucket += step
    return out


def series(client: Any, metric: str, interval: str, start: datetime, end: datetime,
           channels: Sequence[str] = (), provinces: Sequence[str] = ()) -> dict[str, Any]:
    """One metric per Shanghai bucket of `interval` over [start, end), empty buckets as 0.

    `previous_day` / `previous_week` hold the same metric for the buckets 1 and 7 days earlier,
    reported at the time of the current bucket they compare with (the shifted-forward time), so the
    three lists align point by point.
    """
    spec = SERIES_METRICS.get(metric)
    if spec is None:
        raise UnknownMetric(f"unknown series metric {metric!r} (one of {', '.join(SERIES_METRICS)})")
    if interval not in INTERVALS:
        raise UnknownMetric(f"unknown interval {interval!r} (one of {', '.join(INTERVALS)})")
    filters = filters_of(channels, provinces)
    params = {**period(start, end), **filters, "metric": spec.code, "types": list(spec.types),
              "step": spec.step, "bucket_days": interval == "1d",
              "bucket_minutes": INTERVALS[interval] // timedelta(minutes=1),
              "attribute": bool(filters["channels"] or filters["provinces"]), "every_account": False,
              "final": spec.money}  # only a sum needs duplicate rows merged (series.sql)
    values: dict[tuple[int, int], Any] = {}
    # whole hours from the rollup when it holds the metric for these filters (own channel only: a
    # call's channel and every province are attributed through the lead, at query time)
    rolled = (spec.code in ("leads", "reach") or (spec.code == "calls" and not filters["channels"])) \
        and interval in ("1h", "1d") and not filters["provinces"]
    if rolled:
        params.update(rollup_hours(start, end), type=spec.types[0])
    for row in query_rows(client, "series_counts" if rolled else "series", params):
        values[(row["shift_days"], row["bucket_s"])] = row["amount"] if spec.money else row["distinct_count"]
    buckets = bucket_starts(interval, start, end)
    expected = {int(b.timestamp()) for b in buckets}
    stray = {key for key in values if key[1] not in expected}
    if stray:  # would mean Python and ClickHouse disagree on bucket alignment
        log.warning("series %s/%s: %d buckets outside the expected grid", metric, interval, len(stray))
    empty = ZERO if spec.money else 0

    def points(shift: int) -> list[dict[str, Any]]:
        return [{"t": b.isoformat(timespec="milliseconds"),
                 "value": values.get((shift, int(b.timestamp())), empty)} for b in buckets]

    return {"metric": metric, "interval": interval, "points": points(0), "previous_day": points(1),
            "previous_week": points(7)}
