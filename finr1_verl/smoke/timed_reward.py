"""The project's reward with a timestamp log, for measuring how reward scoring overlaps generation.

``reward.custom_reward_function.path=pkg://finr1_verl.smoke.timed_reward`` makes verl's reward
workers call :func:`compute_score`, which awaits :func:`finr1_verl.reward.score.compute_score`
unchanged and appends ``{"start", "end", "judged"}`` (wall-clock seconds) to the file named by
``FINR1_SMOKE_REWARD_LOG``.  Used by ``bench/bench_grpo_overlap.py`` only.
"""

from __future__ import annotations

import json
import os
import time
from typing import Any

from finr1_verl.reward import score

LOG_ENV = "FINR1_SMOKE_REWARD_LOG"


async def compute_score(
    data_source: str, solution_str: str, ground_truth: Any, extra_info: Any = None, **kwargs: Any
):
    start = time.time()
    result = await score.compute_score(data_source, solution_str, ground_truth, extra_info, **kwargs)
    end = time.time()
    path = os.environ.get(LOG_ENV)
    if path:
        with open(path, "a") as f:
            f.write(json.dumps({"start": start, "end": end, "judged": result.get("judged", 0.0)}) + "\n")
    return result
