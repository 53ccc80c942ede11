"""Hand-computed scenarios for the reference oracle (tests/oracle.py). Fast, no services."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from oracle import (
    SHANGHAI,
    Oracle,
    account_for,
    floor_bucket,
    journeys,
    make_asset,
    make_call,
    make_deposit,
    make_lead,
    make_step,
    make_trade,
    parse_ts,
    to_decimal,
    window_funnel,
)

DAY = datetime(2026, 11, 21, tzinfo=SHANGHAI)  # the business day under test, [DAY, NEXT)
NEXT = DAY + timedelta(days=1)
T0 = datetime(2026, 11, 21, 9, 0, tzinfo=SHANGHAI)


def h(hours: float) -> datetime:
    return T0 + timedelta(hours=hours)


def m(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


# --- de-duplication and arrival order ----------------------------------------------------------------

def test_duplicate_event_id_counts_once_and_first_arrival_wins():
    events = [
        make_deposit("A1", T0, "100.00", event_id="d-dup"),
        make_deposit("A1", T0, "999.00", first=True, event_id="d-dup"),  # differs, still dropped
        make_lead("L1", T0, channel="douyin", event_id="l-dup"),
        make_lead("L2", T0, channel="wechat", event_id="l-dup"),
        make_deposit("A1", h(-30), "5", event_id="d-dup"),  # very late redelivery, other day
    ]
    oracle = Oracle(events)
    assert len(oracle.events) == 2
    kpis = oracle.kpis(DAY, NEXT)
    assert kpis["deposit_amount"] == Decimal("100.00")
    assert kpis["first_deposits"] == 0
    assert kpis["leads"] == 1
    assert oracle.kpis(DAY, NEXT, channels={"wechat"})["leads"] == 0
    assert oracle.kpis(DAY - timedelta(days=2), DAY)["deposit_amount"] == 0


def test_late_and_out_of_order_events_count_in_their_event_time_bucket():
    events = [
        make_step("L1", 2, h(1)),  # arrives before its step 1
        make_lead("L1", h(0)),
        make_step("L1", 1, h(0)),
        make_lead("L0", "2026-11-20T10:00:00+08:00"),  # yesterday's lead, arriving last
    ]
    oracle = Oracle(events)
    kpis = oracle.kpis(DAY, NEXT)
    assert kpis["leads"] == 1
    assert kpis["reach"]["1"] == kpis["reach"]["2"] == 1
    assert kpis["step_conversion"]["1"] == 1.0
    assert oracle.series("leads", "1d", DAY - timedelta(days=1), NEXT) == {DAY - timedelta(days=1): 1, DAY: 1}
    assert oracle.funnel(DAY, NEXT)["cohort"]["2"] == 1


# --- funnel KPIs, rejects, ratios ----------------------------------------------------------------------

def test_rejected_steps_do_not_reach_but_count_as_rejects():
    events = journeys({
        "L1": [(1, h(0)), (2, h(1), "rejected"), (2, h(2))],
        "L2": [(1, h(0)), (2, h(1), "rejected")],
        "L3": [(1, h(0)), (2, h(1)), (11, h(2), "rejected")],
    })
    kpis = Oracle(events).kpis(DAY, NEXT)
    assert kpis["reach"]["1"] == 3
    assert kpis["reach"]["2"] == 2  # L1 and L3; L2 only has a rejected step 2
    assert kpis["rejects"]["2"] == 2
    assert kpis["reject_rate"]["2"] == 0.5  # 2 / (2 + 2)
    assert kpis["rejects"]["11"] == 1 and kpis["opened"] == 0
    assert kpis["reject_rate"]["11"] == 1.0  # 1 / (0 + 1)
    assert kpis["reject_rate"]["3"] is None  # 0 / 0
    assert kpis["step_conversion"]["1"] == pytest.approx(2 / 3)
    assert kpis["step_conversion"]["2"] == 0.0  # reach[3] = 0 over reach[2] = 2
    assert kpis["step_conversion"]["3"] is None


def test_zero_denominators_are_none_never_zero():
    empty = Oracle([])
    kpis = empty.kpis(DAY, NEXT)
    for name in ("dial_rate", "open_rate", "deposit_rate", "turnover_rate"):
        assert kpis[name] is None, name
    assert set(kpis["step_conversion"].values()) == {None}
    assert set(kpis["reject_rate"].values()) == {None}
    assert kpis["wealth_preference"] == {}
    assert kpis["aum"] == Decimal("0") and kpis["deposit_amount"] == Decimal("0")
    assert list(kpis) == ["leads", "dialed_leads", "dial_rate", "connected_leads", "reach", "step_conversion",
                          "opened", "open_rate", "rejects", "reject_rate", "first_deposits", "deposit_amount",
                          "net_inflow", "deposit_rate", "aum", "turnover_rate", "wealth_preference"]
    funnel = empty.funnel(DAY, NEXT)
    assert set(funnel["overall_conversion"].values()) == {None}
    assert funnel["time_to_convert_s"] == []
    # a real zero stays 0.0: one lead, never called
    assert Oracle([make_lead("L1", T0)]).kpis(DAY, NEXT)["dial_rate"] == 0.0


def test_dialed_and_connected_leads_up_to_now():
    events = [
        make_lead("L1", h(0)), make_call("L1", h(1), outcome="no_answer"), make_call("L1", h(5)),
        make_lead("L2", h(0)), make_call("L2", h(30)),  # called tomorrow: still counts "up to now"
        make_lead("L3", h(0)),
        make_lead("L4", h(-24)), make_call("L4", h(1)),  # yesterday's lead: not one of "those leads"
    ]
    oracle = Oracle(events)
    kpis = oracle.kpis(DAY, NEXT)
    assert (kpis["leads"], kpis["dialed_leads"], kpis["connected_leads"]) == (3, 2, 2)
    assert kpis["dial_rate"] == pytest.approx(2 / 3)
    early = oracle.kpis(DAY, NEXT, now=h(3))
    assert (early["dialed_leads"], early["connected_leads"]) == (1, 0)
    assert oracle.kpis(DAY, NEXT, now=h(6))["connected_leads"] == 1


# --- time zone --------------------------------------------------------------------------------------

def test_asia_shanghai_day_boundaries_whatever_the_offset():
    oracle = Oracle([
        make_lead("A", "2026-11-20T23:59:59+08:00"),
        make_lead("B", "2026-11-21T00:00:00+08:00"),
        make_lead("C", "2026-11-20T16:00:00+00:00"),  # = 2026-11-21 00:00 in Shanghai
        make_lead("D", "2026-11-20T15:59:59.999+00:00"),  # = 2026-11-20 23:59:59.999 in Shanghai
    ])
    yesterday = DAY - timedelta(days=1)
    assert oracle.kpis(DAY, NEXT)["leads"] == 2
    assert oracle.kpis(yesterday, DAY)["leads"] == 2
    utc_day = datetime(2026, 11, 20, 16, tzinfo=UTC)  # the same instants, written in UTC
    assert oracle.kpis(utc_day, utc_day + timedelta(days=1))["leads"] == 2
    assert oracle.series("leads", "1d", yesterday, NEXT) == {yesterday: 2, DAY: 2}
    assert oracle.series("leads", "1h", DAY - timedelta(hours=1), DAY + timedelta(hours=1)) == {
        DAY - timedelta(hours=1): 2, DAY: 2}
    assert floor_bucket(parse_ts("2026-11-20T16:30:00+00:00"), "1d") == DAY


# --- attribution through step 11 ---------------------------------------------------------------------

def _two_openers() -> list[dict]:
    return (journeys({"L1": [(1, h(0)), (11, h(1))]}, channel="douyin", province="云南")
            + journeys({"L2": [(1, h(0)), (11, h(1))]}, channel="wechat", province="广东"))


def test_channel_and_province_filters_attribute_deposits_via_step_11():
    events = [
        *_two_openers(),
        make_deposit("A-L1", h(2), "1000", first=True),
        make_deposit("A-L1", h(3), "200", direction="out"),
        make_deposit("A-L1", h(4), "50", channel="search"),  # its own channel wins
        make_deposit("A-L2", h(2), "500.25", first=True),
        make_deposit("A-X", h(2), "7"),  # account nobody opened: no channel, no province
        make_trade("A-L1", h(5), "300", "fund"), make_trade("A-L2", h(5), "100", "stock"),
    ]
    oracle = Oracle(events)
    douyin = oracle.kpis(DAY, NEXT, channels={"douyin"})
    assert (douyin["deposit_amount"], douyin["net_inflow"]) == (Decimal("1000"), Decimal("800"))
    assert douyin["first_deposits"] == 1 and douyin["wealth_preference"] == {"fund": 1.0}
    assert oracle.kpis(DAY, NEXT, channels={"search"})["deposit_amount"] == Decimal("50")
    everyone = oracle.kpis(DAY, NEXT)
    assert everyone["deposit_amount"] == Decimal("1557.25")
    assert everyone["net_inflow"] == Decimal("1357.25")
    assert everyone["first_deposits"] == 2
    assert everyone["wealth_preference"] == {"fund": 0.75, "stock": 0.25}
    yunnan = oracle.kpis(DAY, NEXT, provinces={"云南"})  # the "search" deposit is still L1's account
    assert (yunnan["deposit_amount"], yunnan["net_inflow"]) == (Decimal("1050"), Decimal("850"))
    assert yunnan["reach"]["1"] == 1 and yunnan["leads"] == 1
    assert oracle.series("deposit_amount", "1d", DAY, NEXT, channels={"wechat"}) == {DAY: Decimal("500.25")}


def test_deposit_rate_counts_accounts_opened_in_period_funded_up_to_now():
    events = _two_openers() + journeys({"L3": [(1, h(-30)), (11, h(-29))]}) + [
        make_deposit("A-L1", h(40), "10", first=True),  # after the period, before "now": counts
        make_deposit("A-L2", h(2), "10", direction="out"),  # money out is not a deposit
        make_deposit("A-L3", h(2), "10"),  # opened yesterday: not in the denominator
    ]
    oracle = Oracle(events)
    assert oracle.kpis(DAY, NEXT)["deposit_rate"] == 0.5
    assert oracle.kpis(DAY, NEXT, now=h(39))["deposit_rate"] == 0.0
    assert oracle.kpis(DAY, NEXT, channels={"douyin"})["deposit_rate"] == 1.0


# --- cohort funnel (windowFunnel) ----------------------------------------------------------------------

def _funnel_scenario() -> list[dict]:
    full = [(k, h(k - 1)) for k in range(1, 12)]
    return journeys({
        "EDGE": [(1, h(0)), (2, h(72)), (3, h(72) + timedelta(seconds=1))],  # 72 h exactly is inside
        "LATE": [(1, h(0)), (2, h(72) + timedelta(seconds=1))],
        "SKIP": [(1, h(0)), (2, h(1)), (4, h(2))],
        "TIE": [(1, h(0)), (2, h(0)), (3, h(0))],
        "OOO": [(2, h(-1)), (1, h(0))],  # step 2 before step 1 does not extend anything
        "RESTART": [(1, h(0)), (1, h(80)), (2, h(90))],  # a later step 1 restarts the window
        "FULL": full,
        "REJ": [(1, h(0)), (2, h(1), "rejected")],
        "BEFORE": [(1, h(-24)), (1, h(0)), (2, h(1))],  # first step 1 yesterday: not in today's cohort
    }) + journeys({"WX": full}, channel="wechat")


def test_window_funnel_cohort_levels_and_conversions():
    funnel = Oracle(_funnel_scenario()).funnel(DAY, NEXT)
    # levels: EDGE 2, LATE 1, SKIP 2, TIE 3, OOO 1, RESTART 2, FULL 11, REJ 1, WX 11
    expected = {"1": 9, "2": 6, "3": 3}
    expected.update({str(k): 2 for k in range(4, 12)})
    assert funnel["cohort"] == expected
    assert funnel["window_hours"] == 72
    assert funnel["overall_conversion"]["2"] == pytest.approx(6 / 9)
    assert funnel["overall_conversion"]["11"] == pytest.approx(2 / 9)
    assert funnel["step_conversion"]["2"] == 0.5 and funnel["step_conversion"]["3"] == pytest.approx(2 / 3)
    assert funnel["step_conversion"]["10"] == 1.0
    assert funnel["time_to_convert_s"] == [36000.0, 36000.0]


def test_window_funnel_wider_window_and_channel_filter():
    oracle = Oracle(_funnel_scenario())
    wide = oracle.funnel(DAY, NEXT, window_hours=100)
    assert (wide["cohort"]["2"], wide["cohort"]["3"]) == (7, 4)  # LATE reaches 2, EDGE reaches 3
    wechat = oracle.funnel(DAY, NEXT, channels={"wechat"})
    assert wechat["cohort"]["1"] == wechat["cohort"]["11"] == 1


def test_dropped_leads_per_furthest_step():
    oracle = Oracle(_funnel_scenario())
    assert [d["lead_id"] for d in oracle.dropped(DAY, NEXT, 1)] == ["LATE", "OOO", "REJ"]
    at_two = oracle.dropped(DAY, NEXT, 2)
    assert [d["lead_id"] for d in at_two] == ["EDGE", "RESTART", "SKIP"]
    assert at_two[0] == {"lead_id": "EDGE", "channel": "douyin", "furthest_step": 2,
                         "last_step_ts": h(72) + timedelta(seconds=1)}
    assert oracle.dropped(DAY, NEXT, 3, channels={"wechat"}) == []
    with pytest.raises(ValueError):
        oracle.dropped(DAY, NEXT, 11)


def test_time_to_convert_uses_the_chain_that_reached_step_11():
    # step 1 at 0 h, again at 50 h, then steps 2..11 at 60..69 h: the chain starts at 50 h -> 19 h
    steps = [(1, h(0)), (1, h(50))] + [(k, h(58 + k)) for k in range(2, 12)]
    funnel = Oracle(journeys({"L1": steps})).funnel(DAY, NEXT)
    assert funnel["cohort"]["11"] == 1
    assert funnel["time_to_convert_s"] == [19 * 3600.0]


def test_window_funnel_function_directly():
    window = timedelta(seconds=4)
    t = datetime(2026, 1, 1, tzinfo=UTC)
    s = [t + timedelta(seconds=n) for n in range(10)]
    assert window_funnel([], window, levels=3) == (0, None)
    assert window_funnel([(s[2], 2), (s[3], 3)], window, levels=3) == (0, None)
    assert window_funnel([(s[0], 1), (s[2], 2), (s[4], 3)], window, levels=3) == (3, (s[0], s[4]))
    assert window_funnel([(s[0], 1), (s[2], 2), (s[5], 3)], window, levels=3) == (2, None)
    # a second step 1 slides the window forward: 3 at s[7] is within 4 s of the step 1 at s[3]
    assert window_funnel([(s[0], 1), (s[3], 1), (s[6], 2), (s[7], 3)], window, levels=3) == (3, (s[3], s[7]))


# --- AUM --------------------------------------------------------------------------------------------

def _aum_events() -> list[dict]:
    return [
        *_two_openers(),
        make_asset("A-L1", h(3), {"fund": 50, "cash": 512.3}, level="V2", segment="wealth"),  # arrives first
        make_asset("A-L1", h(1), {"stock": "100", "cash": 10}, level="V1", segment="trading"),
        make_asset("A-L2", h(2), {"bond": 2}, province="上海", event_id="a-zz2"),
        make_asset("A-L2", h(2), {"bond": 1}, event_id="a-zz1"),  # same ts, smaller event_id: loses
        make_asset("A-X", h(1), {"wealth": "1000.50"}),
        make_trade("A-L1", h(4), "100", "stock"), make_trade("A-L1", h(4), "300", "wealth"),
        make_trade("A-X", h(4), "100", "bond"),
    ]


def test_aum_latest_snapshot_replaces_earlier_ones():
    oracle = Oracle(_aum_events())
    aum = oracle.aum(h(4))
    assert aum["total"] == Decimal("1564.80")
    assert aum["by_class"] == {"stock": 0, "fund": Decimal("50"), "wealth": Decimal("1000.50"),
                               "bond": Decimal("2"), "cash": Decimal("512.3")}
    assert aum["by_level"] == {"V2": Decimal("562.3"), "unknown": Decimal("1002.50")}
    assert aum["by_segment"] == {"wealth": Decimal("562.3"), "unknown": Decimal("1002.50")}
    assert aum["by_province"] == {"云南": Decimal("562.3"), "上海": Decimal("2"),
                                  "unknown": Decimal("1000.50")}
    assert aum["by_channel"] == {"douyin": Decimal("562.3"), "wechat": Decimal("2"),
                                 "unknown": Decimal("1000.50")}
    # snapshots at exactly `at` are not yet included (ts < at)
    assert oracle.aum(h(2))["total"] == Decimal("1110.50")
    assert oracle.aum(h(4), channels={"douyin"})["total"] == Decimal("562.3")
    assert oracle.aum(h(4), provinces={"广东"})["total"] == 0  # its latest snapshot says 上海
    assert oracle.aum(h(4), provinces={"上海"})["total"] == Decimal("2")


def test_turnover_and_wealth_preference_use_aum_at_period_end():
    oracle = Oracle(_aum_events())
    kpis = oracle.kpis(DAY, NEXT)
    assert kpis["aum"] == Decimal("1564.80")
    assert kpis["turnover_rate"] == pytest.approx(500 / 1564.80)
    assert kpis["wealth_preference"] == {"stock": 0.2, "wealth": 0.6, "bond": 0.2}
    assert oracle.wealth_preference_by_segment(DAY, NEXT) == {"wealth": {"stock": 0.25, "wealth": 0.75},
                                                              "unknown": {"bond": 1.0}}
    assert oracle.kpis(DAY, h(2))["turnover_rate"] == 0.0  # AUM 1110.50, no trades yet
    no_assets = Oracle([make_trade("A1", T0, "10", "fund")]).kpis(DAY, NEXT)
    assert no_assets["turnover_rate"] is None and no_assets["wealth_preference"] == {"fund": 1.0}


# --- time series ------------------------------------------------------------------------------------

def test_series_five_minute_buckets_zero_filled():
    events = [
        *journeys({"L1": [(11, m(3))], "L2": [(11, m(3))]}),
        make_step("L1", 11, m(4)),  # a second step 11 of L1: still one opened lead
        make_deposit("A1", m(1), "100", first=True), make_deposit("A1", m(4), "30", direction="out"),
        make_deposit("A1", m(7), "20"), make_deposit("A1", m(15), "999"),  # 9:15 is outside
        make_call("L1", m(0)), make_call("L1", m(2), outcome="busy"), make_call("L2", m(11)),
        make_trade("A1", m(12), "500", "fund"),
    ]
    oracle = Oracle(events)
    start, end = m(0), m(15)
    b0, b1, b2 = m(0), m(5), m(10)
    assert oracle.series("deposit_amount", "5m", start, end) == {b0: Decimal("100"), b1: Decimal("20"), b2: 0}
    assert oracle.series("net_inflow", "5m", start, end) == {b0: Decimal("70"), b1: Decimal("20"), b2: 0}
    assert oracle.series("first_deposits", "5m", start, end) == {b0: 1, b1: 0, b2: 0}
    assert oracle.series("calls", "5m", start, end) == {b0: 2, b1: 0, b2: 1}
    assert oracle.series("trade_amount", "5m", start, end) == {b0: 0, b1: 0, b2: Decimal("500")}
    assert oracle.series("opened", "5m", start, end) == {b0: 2, b1: 0, b2: 0}
    assert oracle.series("reach_11", "1h", start, end) == {T0: 2}
    # an unaligned start keeps its bucket key, but events before start do not count
    assert oracle.series("calls", "1m", m(2), m(4)) == {m(2): 1, m(3): 0}
    with pytest.raises(ValueError):
        oracle.series("bogus", "5m", start, end)


# --- parsing and builder ------------------------------------------------------------------------------

def test_value_parsing():
    assert to_decimal(512.3) == Decimal("512.3")
    assert to_decimal("50000.00") == Decimal("50000.00") and to_decimal(7) == Decimal(7)
    with pytest.raises(TypeError):
        to_decimal(True)
    with pytest.raises(ValueError):
        parse_ts("2026-11-21T09:30:05")  # no offset
    assert parse_ts("2026-11-21T09:30:05.120+08:00") == datetime(2026, 11, 21, 1, 30, 5, 120000, tzinfo=UTC)


def test_journeys_builder():
    events = journeys({"L1": [(1, T0), (11, h(1))], "L2": [(1, T0), (2, h(1), "rejected")]},
                      channel="wechat", province="云南")
    assert [(e["type"], e["lead_id"]) for e in events] == [
        ("lead", "L1"), ("step", "L1"), ("step", "L1"), ("lead", "L2"), ("step", "L2"), ("step", "L2")]
    assert events[0]["province"] == "云南" and events[0]["ts"] == T0.isoformat()
    assert events[2]["account_id"] == account_for("L1") == "A-L1"
    assert events[5]["status"] == "rejected" and "account_id" not in events[5]
    assert len({e["event_id"] for e in events}) == 6
