"""The parameters every drill-down query binds: moments in UTC, the period, the filters, and the whole hours
an hourly rollup answers. Shared by ecc.olap.analytics and ecc.olap.timeseries."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

from ecc.timeutil import TZ


def utc(moment: datetime, name: str) -> datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware, got {moment!r}")
    return moment.astimezone(UTC)


def iso_ms(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=TZ).isoformat(timespec="milliseconds")


def filters_of(channels: Iterable[str] | None, provinces: Iterable[str] | None) -> dict[str, list[str]]:
    return {"channels": sorted(set(channels or ())), "provinces": sorted(set(provinces or ()))}


def period(start: datetime, end: datetime) -> dict[str, datetime]:
    return {"start": utc(start, "start"), "end": utc(end, "end")}


def rollup_hours(start: datetime, end: datetime, usable: bool = True) -> dict[str, datetime]:
    """The whole hours [h_start, h_end) inside [start, end) that an hourly rollup answers (a UTC hour is
    a Shanghai hour: +8 h, no daylight saving); the queries read the events for the rest. An empty range
    (h_start = h_end) when the rollup cannot answer (`usable` false) or no whole hour fits."""
    start, end = utc(start, "start"), utc(end, "end")
    first = start.replace(minute=0, second=0, microsecond=0)
    if first < start:
        first += timedelta(hours=1)
    last = end.replace(minute=0, second=0, microsecond=0)
    if not usable or last <= first:
        return {"h_start": first, "h_end": first}
    return {"h_start": first, "h_end": last}
