"""The statistics that keep small samples from firing (docs/alerts.md "Detection"). Pure, stdlib only.

- `two_proportion_p`: one-sided pooled two-proportion z-test, for a rate in the window against the same
  rate in the baseline windows. Both sides are samples, so both sides' noise counts: a Wilson bound on the
  window alone would treat the baseline as exact and fire on a baseline that was itself a lucky draw.
- `mantel_haenszel_p`: the same comparison stratum by stratum (Cochran-Mantel-Haenszel), for a rate whose
  level depends on something the window and its baseline hold in different mixes: the alert's step
  conversion depends on how long ago each lead did the step (a young lead has had little time), and a
  window of rising traffic holds more young leads than its baseline. Pooling would read that as a drop;
  each stratum (leads of the same age) compares like with like, and the within-stratum variance is
  smaller than the pooled one, so a real change shows sooner.
- `rate_ratio_p`: counts in the window against counts in baseline windows of the same total length
  (leads per window). Conditional on the total, the window's share of the counts is binomial under "same
  rate" (the standard test for the ratio of two Poisson rates), so no variance has to be estimated.
- `wilson_upper`: the upper Wilson bound of one proportion, for a rate against a fixed target (dial rate
  98%): the rate is "below target" only when even its upper bound is.
Normal approximations: the rules' minimum volumes (tens to hundreds of events) keep them accurate.
"""

from __future__ import annotations

import math
from statistics import NormalDist

_NORMAL = NormalDist()


def upper_tail(z: float) -> float:
    """P(Z >= z) for a standard normal Z."""
    return 0.5 * math.erfc(z / math.sqrt(2))


def two_proportion_p(x1: int, n1: int, x0: int, n0: int, alternative: str = "less") -> float:
    """One-sided p-value that the window's proportion x1/n1 is below (`less`) or above (`greater`) the
    baseline's x0/n0, pooled standard error. 1.0 when a side is empty or the pooled rate is 0 or 1."""
    if n1 <= 0 or n0 <= 0:
        return 1.0
    pooled = (x1 + x0) / (n1 + n0)
    se = math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n0))
    if se == 0:
        return 1.0
    z = (x1 / n1 - x0 / n0) / se
    return upper_tail(-z) if alternative == "less" else upper_tail(z)


def mantel_haenszel_p(tables: list[tuple[int, int, int, int]], alternative: str = "less") -> float:
    """One-sided p-value of the Cochran-Mantel-Haenszel test that the window's proportions are below
    (`less`) or above (`greater`) the baseline's within strata: `tables` holds (x1, n1, x0, n0) per stratum
    (window x1 of n1, baseline x0 of n0). Without continuity correction; with one stratum it is the pooled
    two-proportion z-test up to the factor sqrt((N - 1) / N). 1.0 when no stratum has both sides."""
    deviation = variance = 0.0
    for x1, n1, x0, n0 in tables:
        total = n1 + n0
        if n1 <= 0 or n0 <= 0 or total < 2:
            continue
        hits = x1 + x0
        deviation += x1 - n1 * hits / total
        variance += n1 * n0 * hits * (total - hits) / (total * total * (total - 1))
    if variance <= 0:
        return 1.0
    z = deviation / math.sqrt(variance)
    return upper_tail(-z) if alternative == "less" else upper_tail(z)


def rate_ratio_p(x: int, exposure: float, y: int, baseline_exposure: float,
                 alternative: str = "less") -> float:
    """One-sided p-value that x events in `exposure` come at a lower (`less`) or higher (`greater`) rate
    than y events in `baseline_exposure`: x | x+y ~ Binomial(x+y, exposure/(exposure+baseline_exposure))
    under equal rates, normal approximation with continuity correction."""
    total = x + y
    if total == 0 or exposure <= 0 or baseline_exposure <= 0:
        return 1.0
    share = exposure / (exposure + baseline_exposure)
    mean, sd = total * share, math.sqrt(total * share * (1 - share))
    if alternative == "less":
        return upper_tail((mean - (x + 0.5)) / sd)
    return upper_tail((x - 0.5 - mean) / sd)


def wilson_upper(x: int, n: int, alpha: float) -> float:
    """Upper end of the one-sided (1 - alpha) Wilson score interval of x/n; 1.0 when n is 0."""
    if n <= 0:
        return 1.0
    z = _NORMAL.inv_cdf(1 - alpha)
    p = x / n
    centre = p + z * z / (2 * n)
    margin = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return min(1.0, (centre + margin) / (1 + z * z / n))


def wilson_p_below(x: int, n: int, target: float) -> float:
    """One-sided p-value (score test, the test Wilson's interval inverts) that x/n is below `target`."""
    if n <= 0 or not 0 < target < 1:
        return 1.0
    z = (x / n - target) / math.sqrt(target * (1 - target) / n)
    return upper_tail(-z)
