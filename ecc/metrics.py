"""Metric maths shared by the live store, ClickHouse answers and the API (contract/metrics.md)."""

from __future__ import annotations

from decimal import Decimal


def ratio(numerator: int | float | Decimal, denominator: int | float | Decimal) -> float | None:
    """A ratio whose denominator is 0 is None (shown as "—"), never 0 and never an error."""
    if not denominator:
        return None
    return float(numerator) / float(denominator)


def money(value: Decimal | int | str) -> str:
    """Money as the API shows it: an exact decimal string with 2 places."""
    return str(Decimal(value).quantize(Decimal("0.01")))
