"""The formulas of docs/metrics.md (contract.metrics), and that the wall and the drill-down both use them."""

from __future__ import annotations

from datetime import date
from decimal import Decimal as D

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ecc.contract import metrics
from ecc.live import snapshot as live
from ecc.olap import analytics

STEPS = range(1, 12)


@pytest.mark.parametrize(("numerator", "denominator", "expected"), [
    (1, 4, 0.25),
    (0, 5, 0.0),  # a zero numerator is a real 0 %
    (3, 0, None),  # denominator 0: None ("—"), never 0 and never an error
    (0, 0, None),
    (2, 3, 2 / 3),
    (D("0.1"), D("0.3"), 1 / 3),  # exact decimal maths: float(0.1) / float(0.3) would be 0.33333333333333337
    (D("25000.00"), D("31100.00"), 250 / 311),
    (D("1.00"), D("0.00"), None),
    # beyond 2**53 a float division rounds twice; the exact fraction rounds once
    (929339868545501023260, 573580470046475393326, 1.6202432214440627),
])
def test_ratio(numerator, denominator, expected):
    assert metrics.ratio(numerator, denominator) == expected


def test_ratio_is_a_float_even_of_money():
    assert type(metrics.ratio(D("1.50"), D("3"))) is float


@pytest.mark.parametrize(("value", "text"), [
    (D("1"), "1.00"), ("2.5", "2.50"), (0, "0.00"), (D("-3.10"), "-3.10"),
    (D("12345678901234.56"), "12345678901234.56"),
])
def test_money(value, text):
    assert metrics.money(value) == text


def reach_of(*values: int) -> dict[int, int]:
    return dict(zip(STEPS, values, strict=True))


@pytest.mark.parametrize(("reach", "expected"), [
    (reach_of(10, 8, 8, 4, 4, 4, 4, 4, 4, 4, 2),
     {"1": 0.8, "2": 1.0, "3": 0.5, **{str(k): 1.0 for k in range(4, 10)}, "10": 0.5}),
    (reach_of(*[0] * 11), {str(k): None for k in range(1, 11)}),
    # flow view: a step can be reached by more leads than the one before in the same period
    (reach_of(2, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0), {"1": 1.5, "2": 0.0, **{str(k): None for k in range(3, 11)}}),
])
def test_step_conversion(reach, expected):
    assert metrics.step_conversion(reach) == expected


def test_overall_conversion():
    cohort = reach_of(8, 6, 4, 4, 4, 4, 4, 4, 2, 2, 1)
    assert metrics.overall_conversion(cohort) == {"1": 1.0, "2": 0.75, **{str(k): 0.5 for k in range(3, 9)},
                                                  "9": 0.25, "10": 0.25, "11": 0.125}
    assert set(metrics.overall_conversion(reach_of(*[0] * 11)).values()) == {None}


def test_reject_rate():
    reach = reach_of(3, 3, 2, 1, 1, 1, 1, 1, 1, 1, 0)
    rejects = reach_of(0, 2, 0, 0, 0, 0, 0, 0, 0, 1, 0)
    rates = metrics.reject_rate(rejects, reach)
    assert rates["1"] == 0.0 and rates["2"] == 2 / 5 and rates["10"] == 0.5
    assert rates["11"] is None  # nobody reached or was rejected at step 11


@pytest.mark.parametrize(("function", "args", "expected"), [
    (metrics.dial_rate, (2, 4), 0.5),
    (metrics.dial_rate, (0, 0), None),
    (metrics.connect_rate, (1, 4), 0.25),
    (metrics.open_rate, (1, 4), 0.25),
    (metrics.open_rate, (1, 0), None),
    (metrics.deposit_rate, (3, 4), 0.75),
    (metrics.deposit_rate, (0, 0), None),
    (metrics.turnover_rate, (D("25000.00"), D("31100.00")), 250 / 311),
    (metrics.turnover_rate, (D("100.00"), D("0.00")), None),  # no assets at the period end
    (metrics.net_inflow, (D("52000.25"), D("1000.50")), D("50999.75")),
    (metrics.net_inflow, (D("0.00"), D("10.01")), D("-10.01")),
])
def test_single_formulas(function, args, expected):
    assert function(*args) == expected


def test_net_inflow_stays_decimal():
    assert isinstance(metrics.net_inflow(D("0.10"), D("0.20")), D)
    assert metrics.net_inflow(D("0.10") * 3, D("0.30")) == 0  # no binary rounding error


@pytest.mark.parametrize(("trades", "expected"), [
    ({"stock": D("5000"), "wealth": D("20000")}, {"stock": 0.2, "wealth": 0.8}),
    ({}, {}),
    ({"stock": D("0.00"), "fund": D("0.00")}, {}),  # nothing traded: no shares, not a row of Nones
    ({"stock": D("0.00"), "fund": D("3.00")}, {"stock": 0.0, "fund": 1.0}),  # zero shares kept, in order
    ({"bond": D("0.10"), "fund": D("0.20")}, {"bond": 1 / 3, "fund": 2 / 3}),
])
def test_wealth_preference(trades, expected):
    shares = metrics.wealth_preference(trades)
    assert shares == expected and list(shares) == list(expected)


# ---- one home: the wall (ecc.live.snapshot) and the drill-down (olap.analytics) give the same ratios ----

counts = st.integers(0, 10**6)
amounts = st.decimals(min_value=0, max_value=10**9, places=2, allow_nan=False, allow_infinity=False)


@given(leads=counts, dialed=counts, connected=counts, reach=st.lists(counts, min_size=11, max_size=11),
       rejects=st.lists(counts, min_size=11, max_size=11), opened_deposited=counts,
       trades=st.dictionaries(st.sampled_from(["stock", "fund", "wealth", "bond", "other"]), amounts))
def test_wall_and_drill_down_share_the_formulas(leads, dialed, connected, reach, rejects, opened_deposited,
                                                trades):
    reach_k, rejects_k = reach_of(*reach), reach_of(*rejects)
    wall_totals = {"leads": leads, "dialed_leads": dialed, "connected_leads": connected,
                   "reach": {str(k): v for k, v in reach_k.items()},
                   "rejects": {str(k): v for k, v in rejects_k.items()}, "opened": reach_k[11],
                   "opened_deposited": opened_deposited,
                   "trade_amount": {p: str(a) for p, a in trades.items()}}
    wall = live._ratios(wall_totals)
    totals = analytics._Totals(leads=leads, dialed_leads=dialed, connected_leads=connected, reach=reach_k,
                               rejects=rejects_k, opened_accounts=reach_k[11],
                               deposited_accounts=opened_deposited, trade_by_segment={"trading": trades})
    drill = totals.metrics(None)
    shared = ("dial_rate", "open_rate", "step_conversion", "reject_rate", "deposit_rate", "wealth_preference")
    for name in shared:
        assert wall[name] == drill[name], name
    total = sum(trades.values(), D(0))
    expected_shares = {p: metrics.ratio(a, total) for p, a in trades.items()} if total else {}
    assert wall["wealth_preference"] == expected_shares
    assert wall["connect_rate"] == metrics.ratio(connected, leads)


@pytest.mark.parametrize(("trade_fen", "aum", "expected"), [
    ({"trade_fen:stock": 500_000, "trade_fen:wealth": 2_000_000}, "31100.00", 250 / 311),
    ({"trade_fen:fund": 100}, None, None),  # no assets known: no turnover, not 0 and not an error
    ({"trade_fen:fund": 100}, "0.00", None),
    ({}, "1.00", 0.0),
])
def test_wall_turnover_rate_is_todays_trades_over_aum_now(trade_fen, aum, expected):
    """Today's trades from the live counters over AUM now from the wall context (GET /api/v1/assets:
    every account's latest snapshot however old, which the live window cannot hold)."""
    from layouts import money_views

    snap = live.snapshot(date(2026, 11, 21), trade_fen, {}, {}, None, 0, 0.0, 0.0)
    snap["context"] = {"assets": {"total": aum}} if aum is not None else {}
    assert money_views.turnover_rate(snap) == expected
