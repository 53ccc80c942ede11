"""The formulas of docs/metrics.md, written once: the live store (wall) and ClickHouse (drill-down) both
derive their ratios and money figures here from the counts and sums they keep.

Pure functions, no I/O. Conventions (docs/metrics.md):
- a ratio whose denominator is 0 is None (shown as "—"), never 0 and never an error;
- a ratio is the correctly rounded float of the exact fraction, also of Decimal money, so that the wall,
  the API and an independent oracle agree to the last bit whatever the size of the numbers;
- money stays Decimal until it is shown (`money`).
Steps are the opening-flow steps 1..11 (`catalogue.STEPS`); per-step results are keyed by the step
number as a string ("1".."11"), as the API and the wall show them.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from fractions import Fraction

from ecc.contract import catalogue

STEPS = catalogue.STEPS
Number = int | Decimal


def ratio(numerator: Number, denominator: Number) -> float | None:
    """numerator / denominator as the correctly rounded float, or None when the denominator is 0."""
    if not denominator:
        return None
    return float(Fraction(numerator) / Fraction(denominator))


def money(value: Decimal | int | str) -> str:
    """Money as the API shows it: an exact decimal string with 2 places."""
    return str(Decimal(value).quantize(Decimal("0.01")))


# ---- acquisition ----

def dial_rate(dialed_leads: int, leads: int) -> float | None:
    """线索拨打率: leads of the period with at least one call (up to now) / leads of the period."""
    return ratio(dialed_leads, leads)


def connect_rate(connected_leads: int, leads: int) -> float | None:
    """Leads of the period with a connected call / leads of the period."""
    return ratio(connected_leads, leads)


# ---- the opening funnel ----

def open_rate(opened: int, leads: int) -> float | None:
    """开户转化率: reach[11] / leads, both of the same period (a flow view, not a cohort)."""
    return ratio(opened, leads)


def step_conversion(reach: Mapping[int, int]) -> dict[str, float | None]:
    """断点转化率: reach[k+1] / reach[k] for k = 1..10. Also the cohort breakpoint conversion when
    `reach` is the cohort funnel (cohort[k+1] / cohort[k])."""
    return {str(k): ratio(reach[k + 1], reach[k]) for k in STEPS[:-1]}


def overall_conversion(cohort: Mapping[int, int]) -> dict[str, float | None]:
    """cohort[k] / cohort[1] for k = 1..11: the share of the cohort that got as far as step k."""
    return {str(k): ratio(cohort[k], cohort[1]) for k in STEPS}


def reject_rate(rejects: Mapping[int, int], reach: Mapping[int, int]) -> dict[str, float | None]:
    """驳回率 per step: rejects[k] / (reach[k] + rejects[k])."""
    return {str(k): ratio(rejects[k], reach[k] + rejects[k]) for k in STEPS}


# ---- funding and assets ----

def net_inflow(deposit_in: Decimal, deposit_out: Decimal) -> Decimal:
    """净流入: in minus out, exact."""
    return deposit_in - deposit_out


def deposit_rate(deposited_accounts: int, opened_accounts: int) -> float | None:
    """入金率: accounts opened in the period with any `in` deposit up to now / accounts opened."""
    return ratio(deposited_accounts, opened_accounts)


def turnover_rate(trade_amount: Decimal, aum: Decimal) -> float | None:
    """换手率: trade amount in the period / AUM at the period end."""
    return ratio(trade_amount, aum)


def wealth_preference(trade_by_product: Mapping[str, Decimal]) -> dict[str, float | None]:
    """理财偏好: each product's share of the traded amount, in the order given; {} when nothing was
    traded (no share to show, rather than a row of Nones)."""
    total = sum(trade_by_product.values(), Decimal(0))
    if not total:
        return {}
    return {product: ratio(amount, total) for product, amount in trade_by_product.items()}


def kpi_ratios(*, leads: int, dialed_leads: int, connected_leads: int, reach: Mapping[int, int],
               rejects: Mapping[int, int], opened_accounts: int, deposited_accounts: int,
               trade_by_product: Mapping[str, Decimal]) -> dict[str, object]:
    """Every ratio of the KPI set from the raw counts of one group (all, or one channel)."""
    return {
        "dial_rate": dial_rate(dialed_leads, leads),
        "connect_rate": connect_rate(connected_leads, leads),
        "open_rate": open_rate(reach[catalogue.OPENED_STEP], leads),
        "step_conversion": step_conversion(reach),
        "reject_rate": reject_rate(rejects, reach),
        "deposit_rate": deposit_rate(deposited_accounts, opened_accounts),
        "wealth_preference": wealth_preference(trade_by_product),
    }
