"""Business time: Asia/Shanghai days and buckets, whatever the server's own time zone is."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

TZ = ZoneInfo("Asia/Shanghai")
INTERVALS = {"1m": timedelta(minutes=1), "5m": timedelta(minutes=5), "1h": timedelta(hours=1),
             "1d": timedelta(days=1)}


def now_ms() -> int:
    return int(datetime.now(UTC).timestamp() * 1000)


def to_local(ts_ms: int) -> datetime:
    return datetime.fromtimestamp(ts_ms / 1000, tz=TZ)


def day_of(ts_ms: int) -> date:
    """The Shanghai calendar day of an instant."""
    return to_local(ts_ms).date()


def day_key(ts_ms: int) -> str:
    return to_local(ts_ms).strftime("%Y%m%d")


def minute_key(ts_ms: int) -> str:
    return to_local(ts_ms).strftime("%H:%M")


def day_start(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=TZ)


def today(now: datetime | None = None) -> date:
    return (now or datetime.now(UTC)).astimezone(TZ).date()


def today_period(now: datetime | None = None) -> tuple[datetime, datetime]:
    """[start of today in Shanghai, now): the default period of every metric endpoint."""
    current = (now or datetime.now(UTC)).astimezone(TZ)
    return day_start(current.date()), current


def parse_instant(text: str, name: str) -> datetime:
    """An ISO-8601 instant with offset (query strings); ValueError with a clear message otherwise."""
    try:
        moment = datetime.fromisoformat(text.replace(" ", "+") if text.count(" ") == 1 else text)
    except ValueError:
        raise ValueError(f"{name} is not an ISO-8601 timestamp: {text!r}") from None
    if moment.tzinfo is None:
        raise ValueError(f"{name} needs a UTC offset, e.g. 2026-11-21T00:00:00+08:00: {text!r}")
    return moment
