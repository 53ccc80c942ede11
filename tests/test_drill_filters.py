"""The drill-down's URL filter (layouts/drill_filters.py): parsing, writing back, periods, API parameters."""

from __future__ import annotations

from datetime import datetime, timedelta
from urllib.parse import parse_qsl

import pytest

from ecc.timeutil import TZ
from layouts.drill_filters import (
    DrillFilter,
    api_params,
    compare_period,
    drill_href,
    parse,
    resolve,
    series_interval,
    to_search,
    with_changes,
)

NOW = datetime(2026, 11, 27, 14, 30, 15, tzinfo=TZ)


def test_an_alert_link_opens_on_its_channel_step_and_time():
    # the exact shape ecc/alerts/store.py:drill_link writes (urlencode: "+" of the offset as %2B)
    f = parse("?channel=douyin&step=8&from=2026-11-27T13%3A18%3A05%2B08%3A00"
              "&to=2026-11-27T14%3A48%3A05%2B08%3A00")
    assert f.channels == ("douyin",) and f.step == 8 and f.period == "custom"
    assert f.start == datetime(2026, 11, 27, 13, 18, 5, tzinfo=TZ)
    assert f.end == datetime(2026, 11, 27, 14, 48, 5, tzinfo=TZ)
    assert f.problems == ()


def test_a_plus_sign_left_raw_in_the_offset_still_parses():
    f = parse("?from=2026-11-27T13:18:05+08:00")  # a hand-typed link: "+" decodes to a space
    assert f.start == datetime(2026, 11, 27, 13, 18, 5, tzinfo=TZ)


def test_defaults_are_today_compared_with_the_previous_day():
    f = parse("")
    assert (f.period, f.channels, f.provinces, f.step, f.compare) == ("today", (), (), None, "previous_day")
    assert (f.window_hours, f.idle_hours, f.metric, f.lang) == (72, 2.0, "leads", "zh")
    assert to_search(f) == ""


@pytest.mark.parametrize("search", [
    "?period=yesterday&channel=douyin&channel=wechat&province=%E5%B9%BF%E4%B8%9C&step=3&compare=previous_week",
    "?from=2026-11-20T00%3A00%3A00%2B08%3A00&to=2026-11-27T00%3A00%3A00%2B08%3A00&window_hours=168",
    "?period=7d&idle_hours=0.5&metric=reach_5&interval=1d&lang=en",
    "?from=2026-11-27T09%3A30%3A00.250%2B08%3A00&compare=none",
])
def test_search_round_trips(search):
    f = parse(search)
    assert f.problems == ()
    assert to_search(f) == search
    assert parse(to_search(f)) == f


def test_bad_values_fall_back_and_are_reported():
    f = parse("?step=12&channel=Bad Code&compare=yesterday&period=month&window_hours=x&idle_hours=-1"
              "&metric=aum&interval=2m&from=yesterday")
    assert f == DrillFilter()
    assert len(f.problems) == 9
    assert {details.get("name") for _, details in f.problems} >= {"step", "from"}
    # worded in the page's language (the QA walk found English details on the Chinese page)
    from layouts.drill import layout
    shown = str(layout("overview", "?step=99&from=garbage").to_plotly_json())
    assert "step='99' 不在 1..11 之内" in shown and "from='garbage' 不是 ISO-8601 时间" in shown
    english = str(layout("overview", "?step=99&lang=en").to_plotly_json())
    assert "step='99' is outside 1..11" in english


def test_to_before_from_keeps_from_and_drops_to():
    f = parse("?from=2026-11-27T10:00:00%2B08:00&to=2026-11-27T09:00:00%2B08:00")
    assert f.start is not None and f.end is None and f.problems


def test_a_named_period_ignores_a_lone_to():
    f = parse("?period=yesterday&to=2026-11-27T09:00:00%2B08:00")
    assert f.period == "yesterday" and f.end is None


def test_periods_in_shanghai_days():
    today = resolve(DrillFilter(), NOW)
    assert (today.start, today.end, today.open_end) == (datetime(2026, 11, 27, tzinfo=TZ), NOW, True)
    yesterday = resolve(DrillFilter(period="yesterday"), NOW)
    assert (yesterday.start, yesterday.end, yesterday.open_end) == (
        datetime(2026, 11, 26, tzinfo=TZ), datetime(2026, 11, 27, tzinfo=TZ), False)
    week = resolve(DrillFilter(period="7d"), NOW)
    assert week.start == datetime(2026, 11, 21, tzinfo=TZ) and week.end == NOW
    assert len(week.days) == 7 and week.days[-1] == datetime(2026, 11, 27, tzinfo=TZ)
    # a UTC clock just before Shanghai midnight is still "today" in Shanghai
    late = resolve(DrillFilter(), datetime(2026, 11, 27, 15, 59, tzinfo=TZ).astimezone(TZ))
    assert late.start == datetime(2026, 11, 27, tzinfo=TZ)


def test_custom_period_up_to_now_is_open():
    f = parse("?from=2026-11-27T13:00:00%2B08:00&to=2026-11-28T00:00:00%2B08:00")
    period = resolve(f, NOW)
    assert period.open_end and period.end == NOW
    closed = resolve(parse("?from=2026-11-27T13:00:00%2B08:00&to=2026-11-27T14:00:00%2B08:00"), NOW)
    assert not closed.open_end and closed.end == datetime(2026, 11, 27, 14, tzinfo=TZ)


def test_compare_is_the_same_span_a_day_or_a_week_earlier():
    period = resolve(DrillFilter(), NOW)
    day = compare_period(DrillFilter(), period)
    assert (day.start, day.end, day.open_end) == (datetime(2026, 11, 26, tzinfo=TZ), NOW - timedelta(days=1),
                                                  False)
    week = compare_period(DrillFilter(compare="previous_week"), period)
    assert week.start == datetime(2026, 11, 20, tzinfo=TZ) and week.end == NOW - timedelta(days=7)
    assert compare_period(DrillFilter(compare="none"), period) is None


def test_api_params_leave_today_to_the_api_and_carry_filters():
    f = parse("?channel=douyin&province=%E5%B9%BF%E4%B8%9C")
    period = resolve(f, NOW)
    assert api_params(f, period) == [("channel", "douyin"), ("province", "广东")]  # the API's "today so far"
    cmp = compare_period(f, period)
    pairs = dict(api_params(f, cmp))
    assert pairs["from"] == "2026-11-26T00:00:00+08:00" and pairs["to"] == "2026-11-26T14:30:15+08:00"
    week = with_changes(f, period="7d")
    assert dict(api_params(week, resolve(week, NOW))) == {"from": "2026-11-21T00:00:00+08:00",
                                                          "channel": "douyin", "province": "广东"}
    assert ("step", "3") in api_params(f, period, step=3, limit=None)
    assert all(k != "limit" for k, _ in api_params(f, period, limit=None))


def test_changing_to_a_named_period_drops_the_custom_span():
    f = parse("?from=2026-11-20T00:00:00%2B08:00&to=2026-11-21T00:00:00%2B08:00&step=4")
    g = with_changes(f, period="yesterday")
    assert (g.start, g.end, g.step) == (None, None, 4)
    assert dict(parse_qsl(to_search(g).lstrip("?"))) == {"period": "yesterday", "step": "4"}


def test_series_interval_follows_the_period_unless_given():
    assert series_interval(DrillFilter(), resolve(DrillFilter(), NOW)) == "1h"
    week = DrillFilter(period="7d")
    assert series_interval(week, resolve(week, NOW)) == "1d"
    assert series_interval(DrillFilter(interval="5m"), resolve(week, NOW)) == "5m"


def test_drill_href_under_a_base_path():
    f = parse("?channel=douyin")
    assert drill_href("/", "overview", f) == "/drill?channel=douyin"
    assert drill_href("/ecc/", "callback", with_changes(f, step=3)) == \
        "/ecc/drill/callback?channel=douyin&step=3"
