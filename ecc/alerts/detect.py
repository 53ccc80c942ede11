"""Detection: one pure function per kind, from the counts of the window and of its baseline windows to a
`Verdict` (docs/alerts.md "Detection"). No I/O: the evaluator gathers the counts (ecc.alerts.data).

A verdict says whether the rule is breached (enough volume, statistically significant AND a change large
enough to matter), whether the number has recovered (the hysteresis band: back within
`recover_fraction` of the threshold, not merely under it), and the evidence shown in the alert.
`known` is False when there is too little volume to judge either way: a pending alert is dropped, a
firing one is held as it is.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from ecc.alerts import stats
from ecc.contract.metrics import ratio


@dataclass(frozen=True)
class Verdict:
    breach: bool
    recovered: bool
    known: bool
    observed: float | None
    baseline: float | None
    sample: int | None
    p_value: float | None


UNKNOWN = Verdict(False, False, False, None, None, None, None)


@dataclass(frozen=True)
class Share:
    """x of n: converted of entered, rejected of attempted, dialed of leads."""

    x: int
    n: int

    def __add__(self, other: Share) -> Share:
        return Share(self.x + other.x, self.n + other.n)


Strata = Sequence[tuple[Share, Share]]  # (window, baseline) per stratum: leads of the same age


def _compare(strata: Strata) -> tuple[list[tuple[int, int, int, int]], Share, float | None, int]:
    """The strata both sides have, the window's share over them, the baseline's share standardised to
    the window's mix (what the window's leads would have reached at the baseline's rate of their own
    stratum), and the baseline's volume."""
    tables = [(c.x, c.n, b.x, b.n) for c, b in strata if c.n > 0 and b.n > 0]
    window = Share(sum(t[0] for t in tables), sum(t[1] for t in tables))
    expected = ratio(sum(n1 * x0 / n0 for _, n1, x0, n0 in tables), window.n)
    return tables, window, expected, sum(b.n for _, b in strata)


def conversion_drop(strata: Strata, p: dict) -> Verdict:
    """Step conversion (of the window's step-k leads, the share already at step k+1) fell: one-sided
    Mantel-Haenszel test over the leads' ages, a relative drop of at least `min_drop` against the
    baseline standardised to the window's ages, `min_sample` leads on both sides."""
    tables, window, expected, baseline_n = _compare(strata)
    observed = ratio(window.x, window.n)
    if window.n < p["min_sample"] or baseline_n < p["min_sample"] or not expected:
        return Verdict(False, False, False, observed, expected, window.n, None)
    p_value = stats.mantel_haenszel_p(tables, "less")
    breach = p_value < p["alpha"] and observed <= expected * (1 - p["min_drop"])
    recovered = observed >= expected * (1 - p["min_drop"] * p["recover_fraction"])
    return Verdict(breach, recovered, True, observed, expected, window.n, p_value)


def reject_spike(strata: Strata, p: dict) -> Verdict:
    """Reject rate (rejects / (reach + rejects)) at a step rose: one-sided Mantel-Haenszel test over the
    events' ages, a relative rise of at least `min_rise`, at least ten rejects in the window."""
    tables, window, expected, baseline_n = _compare(strata)
    observed = ratio(window.x, window.n)
    if window.n < p["min_sample"] or baseline_n < p["min_sample"]:
        return Verdict(False, False, False, observed, expected, window.n, None)
    p_value = stats.mantel_haenszel_p(tables, "greater")
    breach = (p_value < p["alpha"] and window.x >= 10
              and observed >= (expected or 0) * (1 + p["min_rise"]))
    recovered = observed <= (expected or 0) * (1 + p["min_rise"] * p["recover_fraction"])
    return Verdict(breach, recovered, True, observed, expected, window.n, p_value)


def scan(judge, windows: list[Strata], p: dict) -> Verdict:
    """Judge a rate over several windows that end now (shortest first), each against its own baseline:
    a short window holds only what followed a recent change, so it sees the change before a long window
    that still mixes in what came before (a scan over change points). The windows with enough volume
    share `alpha` (Bonferroni: each is judged at alpha / m), so trying several costs no false alerts.
    The most significant window is the evidence, its p-value multiplied by m; recovered means every
    judged window is back inside the hysteresis band."""
    verdicts = [judge(strata, p) for strata in windows]
    judged = sum(v.known for v in verdicts)
    if judged == 0:
        return verdicts[-1]
    if judged > 1:
        narrower = {**p, "alpha": p["alpha"] / judged}
        verdicts = [judge(strata, narrower) for strata in windows]
    known = [v for v in verdicts if v.known]
    breached = [v for v in known if v.breach]
    best = min(breached or known, key=lambda v: v.p_value)
    return Verdict(bool(breached), all(v.recovered for v in known), True, best.observed, best.baseline,
                   best.sample, min(1.0, best.p_value * judged))


def windows_of(params: dict) -> list[int]:
    """The window lengths (minutes) a rule judges, shortest first: `window_minutes` and the `scan_minutes`
    shorter than it."""
    window = params["window_minutes"]
    return sorted({*(m for m in params.get("scan_minutes", ()) if m < window), window})


def volume_change(count: int, baseline_counts: list[int], p: dict, direction: str) -> Verdict:
    """Leads in the window against the mean of the baseline windows (same length): the Poisson
    rate-ratio test; `direction` "drop" (min_drop) or "spike" (min_rise)."""
    if not baseline_counts:
        return Verdict(False, False, False, float(count), None, count, None)
    total, k = sum(baseline_counts), len(baseline_counts)
    expected = total / k
    if expected < p["min_expected"]:
        return Verdict(False, False, False, float(count), expected, count, None)
    if direction == "drop":
        p_value = stats.rate_ratio_p(count, 1, total, k, "less")
        breach = p_value < p["alpha"] and count <= expected * (1 - p["min_drop"])
        recovered = count >= expected * (1 - p["min_drop"] * p["recover_fraction"])
    else:
        p_value = stats.rate_ratio_p(count, 1, total, k, "greater")
        breach = p_value < p["alpha"] and count >= expected * (1 + p["min_rise"])
        recovered = count <= expected * (1 + p["min_rise"] * p["recover_fraction"])
    return Verdict(breach, recovered, True, float(count), expected, count, p_value)


def dial_rate_low(current: Share, p: dict) -> Verdict:
    """Dial rate of the leads of a window that ended `age_minutes` ago, against the fixed `target`: fires
    when the one-sided Wilson upper bound at `alpha` is below the target."""
    observed, target = ratio(current.x, current.n), p["target"]
    if current.n < p["min_sample"]:
        return Verdict(False, False, False, observed, target, current.n, None)
    breach = stats.wilson_upper(current.x, current.n, p["alpha"]) < target
    recovered = observed >= target - (1 - target) * p["recover_fraction"]
    return Verdict(breach, recovered, True, observed, target,
                   current.n, stats.wilson_p_below(current.x, current.n, target))


def no_data(newest_ms: int | None, now: datetime, p: dict) -> Verdict:
    """Freshness of a source: seconds since its newest event (event time) against `max_age_s`; a source
    with no event in the look-back is as stale as the look-back is long."""
    now_ms = int(now.timestamp() * 1000)
    age = (now_ms - newest_ms) / 1000 if newest_ms is not None else float("inf")
    age = max(0.0, age)
    shown = round(age, 1) if age != float("inf") else None
    return Verdict(age > p["max_age_s"], age <= p["max_age_s"] / 2, True, shown, float(p["max_age_s"]),
                   None, None)


def baseline_ends(params: dict, end: datetime) -> list[datetime]:
    """Ends of the baseline windows for a window ending at `end` (docs/alerts.md "Baselines")."""
    kind = params["baseline"]
    if kind == "same_time_recent_days":
        return [end - timedelta(days=d) for d in range(1, params["recent_days"] + 1)]
    if kind == "same_hour_last_week":
        return [end - timedelta(days=7)]
    step = timedelta(minutes=params["trailing_step_minutes"])
    return [end - step * i for i in range(1, params["baseline_windows"] + 1)]
