"""Time-to-convert histogram of the cohort funnel (GET /api/v1/funnel, field `time_to_convert_histogram`).

metrics.md: "time to convert — for cohort leads that reached step 11: distribution of (step-11 ts − step-1
ts)". `analytics.funnel` answers it as quantiles; this module answers the same distribution as counts in
fixed buckets for the drill-down's histogram. Same cohort, filters and windowFunnel levels as the funnel
(queries/funnel_ttc_histogram.sql includes parts/cohort.sql), so the buckets always add up to
`time_to_convert.count`.

The buckets are fixed, human-sized spans (minutes up to days) rather than equal widths: a conversion
takes about half an hour when nothing waits, hours when a review waits, days across a night or weekend,
and one linear axis cannot show all three. Bucket bounds are whole minutes, so the SQL counts per whole
minute and the binning here is exact.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from ecc.contract import catalogue
from ecc.olap.analytics import _cohort_params  # the funnel's own parameters: same cohort, same filters
from ecc.olap.clickhouse import query_rows

# Lower bounds of the buckets after the first one, in minutes: 0-5 min, 5-10 min, … 2-3 days, 3 days+.
EDGES_MIN = (5, 10, 20, 30, 45, 60, 90, 120, 240, 480, 1440, 2880, 4320)


def edges_for(window_hours: float) -> tuple[int, ...]:
    """The bucket edges up to the window's end: the buckets before it hold the conversions within the
    window; the last, open one ([last edge, ∞)) only chains that windowFunnel restarted at a later step 1
    (time to convert is counted from the first step 1, metrics.md)."""
    window_min = window_hours * 60
    return tuple(edge for edge in EDGES_MIN if edge <= window_min)


def bin_minutes(counts: Iterable[tuple[int, int]], edges: Sequence[int]) -> list[dict[str, Any]]:
    """(whole minute, leads) rows -> buckets [{from_s, to_s (None = open), leads}], every bucket listed.

    A lead that took m minutes and some seconds lies in [edge_i, edge_i+1) exactly when m does, since the
    edges are whole minutes."""
    bounds = (0, *edges)
    leads = [0] * len(bounds)
    for minute, n in counts:
        leads[bisect_right(bounds, minute) - 1] += n
    return [{"from_s": low * 60, "to_s": high * 60 if high is not None else None, "leads": n}
            for low, high, n in zip(bounds, (*edges, None), leads, strict=True)]


def histogram(client: Any, start: datetime, end: datetime, window_hours: float = 72,
              channels: Sequence[str] = (), provinces: Sequence[str] = ()) -> dict[str, Any]:
    """The histogram of first step 1 -> first step 11 for the cohort of [start, end) (see module doc)."""
    params = _cohort_params(start, end, window_hours, channels, provinces)
    rows = query_rows(client, "funnel_ttc_histogram", params)
    buckets = bin_minutes(((row["minute"], row["leads"]) for row in rows), edges_for(window_hours))
    return {"from_step": 1, "to_step": catalogue.OPENED_STEP, "count": sum(b["leads"] for b in buckets),
            "buckets": buckets}
