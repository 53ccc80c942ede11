"""Mainland China's public holidays and the SSE/SZSE trading days: pure functions of a date.

The calendar is PyPI `chinese-calendar` (the State Council's yearly holiday notice, with the adjusted
workdays 调休). It knows a fixed range of years (2004–2026 in 1.11.0) and raises NotImplementedError
outside it; here a year it does not know falls back to **weekends only**: no public holiday, and every
weekday a trading day. `known(day)` says which answer you get, so a caller can say so (the wall's
session badge does). A new year's holidays arrive with a new release of the package (the notice comes
out each November): upgrade it.

A trading day is a weekday that is not a public holiday. An adjusted workday on a weekend (e.g. Saturday
2026-02-28, worked for the Spring Festival) is a working day for people but **not** a trading day: the
exchanges never open on a Saturday or Sunday. Checked against exchange-calendars' XSHG calendar for every
day of 2007–2026: the two agree except for the one closure below that no public-holiday notice names.
"""

from __future__ import annotations

from datetime import date

import chinese_calendar

# Exchange closures that are not public holidays. 2024-02-09 (除夕): the State Council only *encouraged*
# employers to give the day off, the SSE and SZSE closed (their holiday notices of Dec 2023).
_EXCHANGE_ONLY_CLOSURES = frozenset({date(2024, 2, 9)})


def known(day: date) -> bool:
    """True when the calendar package covers `day`'s year (else the answers below are weekends-only)."""
    try:
        chinese_calendar.is_holiday(day)
    except NotImplementedError:
        return False
    return True


def public_holiday(day: date) -> bool:
    """True on a legal public holiday of mainland China (法定节假日 and the days off around it), weekend
    days inside a holiday span included. False on ordinary weekends, on adjusted workdays, and on any day
    of a year the package does not know."""
    try:
        day_off, name = chinese_calendar.get_holiday_detail(day)
    except NotImplementedError:
        return False
    return day_off and name is not None  # an ordinary weekend is (True, None)


def adjusted_workday(day: date) -> bool:
    """True on a weekend day worked in exchange for a holiday (调休上班): no trading all the same."""
    try:
        return day.weekday() >= 5 and chinese_calendar.is_workday(day)
    except NotImplementedError:
        return False


def trading_day(day: date) -> bool:
    """True when the Shanghai and Shenzhen exchanges hold a session on `day`: a weekday that is neither a
    public holiday nor an exchange-only closure (weekends only in a year the package does not know)."""
    return day.weekday() < 5 and not public_holiday(day) and day not in _EXCHANGE_ONLY_CLOSURES
