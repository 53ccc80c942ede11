"""ecc/calendar.py (mainland holidays, SSE/SZSE trading days) and the session badge on those days."""

from datetime import UTC, date, datetime

import pytest

from ecc import calendar
from ecc.timeutil import TZ
from layouts.chrome import session_badge
from layouts.session import session_at


@pytest.mark.parametrize(("day", "holiday", "trading"), [
    (date(2026, 10, 1), True, False),   # National Day, a Thursday
    (date(2026, 10, 3), True, False),   # a Saturday inside the National Day span
    (date(2026, 10, 8), False, True),   # the Thursday after: trading again
    (date(2026, 2, 17), True, False),   # Spring Festival (正月初一), a Tuesday
    (date(2026, 2, 23), True, False),   # a Monday off in lieu (Spring Festival span)
    (date(2026, 2, 28), False, False),  # Saturday worked for the Spring Festival (调休): no trading
    (date(2026, 11, 21), False, False),  # an ordinary Saturday
    (date(2026, 11, 23), False, True),  # an ordinary Monday
    (date(2024, 2, 9), False, False),   # 除夕 2024: the exchanges closed, not a public holiday
])
def test_holidays_and_trading_days(day, holiday, trading):
    assert calendar.known(day)
    assert calendar.public_holiday(day) is holiday
    assert calendar.trading_day(day) is trading


def test_adjusted_workdays_are_weekend_days_only():
    assert calendar.adjusted_workday(date(2026, 2, 28)) and calendar.adjusted_workday(date(2026, 10, 10))
    assert not calendar.adjusted_workday(date(2026, 11, 21))  # ordinary Saturday
    assert not calendar.adjusted_workday(date(2026, 11, 23))  # ordinary Monday


def test_a_year_past_the_package_falls_back_to_weekends_only():
    new_year_2100 = date(2100, 1, 1)  # a Friday no package release will ever cover in these tests
    assert not calendar.known(new_year_2100)
    assert not calendar.public_holiday(new_year_2100) and calendar.trading_day(new_year_2100)
    assert not calendar.trading_day(date(2100, 1, 2))  # Saturday
    assert not calendar.adjusted_workday(date(2100, 1, 2))


def test_a_holiday_is_not_a_trading_session_but_business_hours_go_on():
    national_day = session_at(datetime(2026, 10, 1, 10, 0, tzinfo=TZ))
    assert (national_day.phase, national_day.business_hours, national_day.holiday) == ("holiday", True, True)
    assert session_at(datetime(2026, 10, 1, 21, 0, tzinfo=TZ)).phase == "night"
    assert session_at(datetime(2026, 2, 17, 9, 20, tzinfo=TZ)).phase == "holiday"  # no call auction
    assert session_at(datetime(2026, 10, 8, 9, 20, tzinfo=TZ)).phase == "pre_open"
    workday = session_at(datetime(2026, 2, 28, 10, 0, tzinfo=TZ))
    assert (workday.phase, workday.weekend, workday.adjusted_workday) == ("closed", True, True)
    # 2026-10-01 02:30 UTC is 10:30 in Shanghai: still the holiday
    assert session_at(datetime(2026, 10, 1, 2, 30, tzinfo=UTC)).phase == "holiday"


def test_the_badge_names_the_holiday_the_adjusted_workday_and_an_unknown_year():
    children, css = session_badge(datetime(2026, 10, 1, 10, 0, tzinfo=TZ), "zh")
    assert css == "session session-holiday session-closed"
    assert [c.children for c in children[1:]] == ["休市（节假日）"]
    children, _ = session_badge(datetime(2026, 2, 17, 14, 0, tzinfo=TZ), "en")
    assert children[1].children == "Market closed (holiday)"
    children, css = session_badge(datetime(2026, 2, 28, 10, 0, tzinfo=TZ), "zh")
    assert css == "session session-closed" and [c.children for c in children[1:]] == ["休市", "调休工作日"]
    children, css = session_badge(datetime(2100, 1, 1, 10, 0, tzinfo=TZ), "en")
    assert css == "session session-trading"
    assert children[1].title == "holiday calendar does not cover this year: weekends only"
    children, _ = session_badge(datetime(2026, 11, 23, 10, 0, tzinfo=TZ), "en")
    assert getattr(children[1], "title", None) is None
