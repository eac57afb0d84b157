"""Every rule-path function runs in linear time: pathological 16 KB responses cost at most 50x a plain one.

Each family goes through the whole rule path (format, extraction, guard, rule verdict) with cold caches,
in strict (tagged) and lenient (evaluation) mode, for a numeric and a choice row; the plain baseline is
measured in the same test the same way.  Times are the best of several runs, so a busy machine only
makes the ratio more conservative for the baseline and families alike.
"""

from __future__ import annotations

import pytest

from finr1_verl.reward.corpus import TIMING_ROWS, cold_rule_seconds, plain_response, slow_families
from finr1_verl.reward.score import ScoreSettings, read_sample

SIZE = 16_384
MAX_RATIO = 50


@pytest.mark.parametrize("lenient", [False, True], ids=["strict", "lenient"])
@pytest.mark.parametrize("row", list(TIMING_ROWS))
def test_pathological_families_cost_at_most_50x_a_plain_response(lenient, row):
    settings = ScoreSettings(mode="never", lenient=lenient)
    sample = read_sample("finr1/test", *TIMING_ROWS[row])
    plain = plain_response(SIZE)
    assert SIZE - 100 <= len(plain) <= SIZE + 100
    baseline = cold_rule_seconds(plain, sample, settings, repeats=21)
    families = slow_families(SIZE)
    assert len(families) >= 30
    costs = {name: cold_rule_seconds(text, sample, settings, repeats=7) for name, text in families.items()}
    worst = max(costs, key=costs.get)
    print(
        f"\n{row}/{'lenient' if lenient else 'strict'}: plain {baseline * 1e3:.3f} ms, worst {worst} "
        f"{costs[worst] * 1e3:.3f} ms ({costs[worst] / baseline:.1f}x)"
    )
    slow = {name: round(cost / baseline, 1) for name, cost in costs.items() if cost > MAX_RATIO * baseline}
    assert not slow, slow
