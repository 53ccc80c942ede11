"""The trading session and business hours at an instant, in Asia/Shanghai: a pure function.

The A-share day: call auction (pre-open) 09:15–09:30, continuous trading 09:30–11:30 and 13:00–15:00,
lunch break between, on trading days only (ecc/calendar.py: weekdays that are not public holidays).
The branch's online business (leads, calls, review) runs 08:30–20:00 every day, holidays included;
outside it the wall says so, because low numbers at night are normal and must not look like an outage.
Inside business hours a public holiday is the phase "holiday" (休市（节假日）), weekends and adjusted
weekend workdays (调休) are "closed". In a year the calendar package does not know, holidays are not
recognised (weekends only) and `calendar_known` is False so the badge can say so.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time

from ecc import calendar
from ecc.timeutil import TZ

PHASES = ("night", "closed", "holiday", "pre_open", "trading", "lunch")
BUSINESS_OPEN = time(8, 30)
BUSINESS_CLOSE = time(20, 0)

# (start, end, phase) of a trading day inside business hours; the gaps are "closed".
_TRADING_DAY = (
    (time(9, 15), time(9, 30), "pre_open"),
    (time(9, 30), time(11, 30), "trading"),
    (time(11, 30), time(13, 0), "lunch"),
    (time(13, 0), time(15, 0), "trading"),
)


@dataclass(frozen=True)
class Session:
    phase: str  # one of PHASES
    business_hours: bool  # 08:30–20:00: the branch's people and robots are at work
    weekend: bool
    holiday: bool = False  # a public holiday of mainland China (any hour)
    adjusted_workday: bool = False  # a weekend day worked for a holiday (调休): still no trading
    calendar_known: bool = True  # False: the year is past the calendar package's, weekends only


def session_at(moment: datetime) -> Session:
    """The session at `moment` (any time zone; naive datetimes are taken as Shanghai time)."""
    local = moment.replace(tzinfo=TZ) if moment.tzinfo is None else moment.astimezone(TZ)
    clock, day = local.time(), local.date()
    weekend, holiday = day.weekday() >= 5, calendar.public_holiday(day)
    flags = {"weekend": weekend, "holiday": holiday, "adjusted_workday": calendar.adjusted_workday(day),
             "calendar_known": calendar.known(day)}
    if not BUSINESS_OPEN <= clock < BUSINESS_CLOSE:
        return Session("night", False, **flags)
    if holiday:
        return Session("holiday", True, **flags)
    if calendar.trading_day(day):
        for start, end, phase in _TRADING_DAY:
            if start <= clock < end:
                return Session(phase, True, **flags)
    return Session("closed", True, **flags)
