"""scripts/serve_judge.sh's replica plan (--dry-run starts nothing): the 72B judge as TP-4 replicas."""

from __future__ import annotations

import os
import subprocess

import pytest

from tests.support.shared_data import REPO_ROOT


def plan(gpus: str, *args: str) -> str:
    env = {**os.environ, "JUDGE_GPUS": gpus}
    env.pop("JUDGE_REPLICAS", None)
    proc = subprocess.run(
        ["bash", str(REPO_ROOT / "scripts" / "serve_judge.sh"), "--dry-run", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    return next(line for line in proc.stdout.splitlines() if line.startswith("replicas x TP"))


@pytest.mark.parametrize(
    ("gpus", "args", "expected"),
    [
        ("0,1,2,3,4,5,6,7", (), "2 x 4"),  # two TP-4 replicas of the 72B judge, not one TP-8
        ("0,1,2,3", (), "1 x 4"),
        ("0,1", (), "1 x 2"),
        ("0,1,2,3,4,5,6,7", ("--small",), "8 x 1"),
    ],
)
def test_replica_plan(gpus, args, expected):
    assert plan(gpus, *args).split(": ")[1].startswith(f"{expected} on GPUs {gpus}")
