"""How far to trust a score: the standard error lm-evaluation-harness reports and a 95% interval.

A benchmark score is the mean of per-item 0/1 verdicts.  ``mean_stderr`` is lm-evaluation-harness
0.4's ``acc_stderr`` (sample standard deviation over √n, ``lm_eval/api/metrics.py``), so the two
tools print the same number; the 95% interval is Wilson's score interval, which stays inside [0, 1]
and is honest on the few-item benchmarks where the normal approximation is not (3 of 3 right is
[43.9, 100], not 100 ± 0).
"""

from __future__ import annotations

import math

Z95 = 1.959963984540054  # the 97.5% quantile of the standard normal


def mean_stderr(hits: int, n: int) -> float | None:
    """The standard error of a 0/1 mean: sample std (n − 1) over √n; None below two items."""
    if n < 2:
        return None
    p = hits / n
    variance = (hits * (1 - p) ** 2 + (n - hits) * p**2) / (n - 1)
    return math.sqrt(variance / n)


def wilson_interval(hits: int, n: int, z: float = Z95) -> tuple[float, float] | None:
    """Wilson's score interval of the proportion ``hits / n``, as fractions; None for no items."""
    if n == 0:
        return None
    p = hits / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def percent_interval(hits: int, n: int) -> list[float] | None:
    """The 95% interval in percent, rounded as the scores are."""
    interval = wilson_interval(hits, n)
    return None if interval is None else [round(100 * bound, 2) for bound in interval]
