"""The trading session and business hours at an instant, in Asia/Shanghai: a pure function.

The A-share day: call auction (pre-open) 09:15–09:30, continuous trading 09:30–11:30 and 13:00–15:00,
lunch break between. The branch's online business (leads, calls, review) runs 08:30–20:00 every day;
outside it the wall says so, because low numbers at night are normal and must not look like an outage.
Weekends have no trading session but are business days for account opening. Exchange holidays are not
known here (no calendar is shipped): a holiday shows as a weekday whose session is "closed" at 15:00.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time

from ecc.timeutil import TZ

PHASES = ("night", "closed", "pre_open", "trading", "lunch")
BUSINESS_OPEN = time(8, 30)
BUSINESS_CLOSE = time(20, 0)

# (start, end, phase) of a weekday inside business hours; the gaps are "closed".
_WEEKDAY = (
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


def session_at(moment: datetime) -> Session:
    """The session at `moment` (any time zone; naive datetimes are taken as Shanghai time)."""
    local = moment.replace(tzinfo=TZ) if moment.tzinfo is None else moment.astimezone(TZ)
    clock = local.time()
    weekend = local.weekday() >= 5
    business = BUSINESS_OPEN <= clock < BUSINESS_CLOSE
    if not business:
        return Session("night", False, weekend)
    if not weekend:
        for start, end, phase in _WEEKDAY:
            if start <= clock < end:
                return Session(phase, True, weekend)
    return Session("closed", True, weekend)
