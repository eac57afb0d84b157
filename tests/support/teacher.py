"""Helpers for the distillation and filter tests: question files, teacher replies, CLI subprocesses."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from finr1_verl.smoke.fake_openai import Reply

REPO = Path(__file__).resolve().parents[2]
# The generic reader's mapping for the question files written by :func:`write_questions`.
COLUMNS = {"id": "id", "answer_type": "type", "choices": "choices"}


def write_questions(path: Path, records: list[dict[str, Any]]) -> Path:
    """A JSONL source: id, question, answer, type ('' = typed by form), choices (object or {})."""
    with open(path, "w", encoding="utf-8") as out:
        for record in records:
            row = {"type": "", "choices": {}} | record
            out.write(json.dumps(row, ensure_ascii=False) + "\n")
    return path


def trace(thinking: str, answer: str, **kw: Any) -> Reply:
    """A teacher reply as vLLM returns it without a reasoning parser after a "<think>\\n" prefill."""
    return Reply(content=f"{thinking}\n</think>\n\n{answer}", **kw)


def question_of(body: dict[str, Any]) -> str:
    """The user turn of a teacher request."""
    return next(m["content"] for m in body["messages"] if m["role"] == "user")


def cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "finr1_verl.data.cli", *args]


def run_cli(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(cli(*args), cwd=REPO, capture_output=True, text=True, timeout=timeout, check=False)


def kill_when(args: list[str], path: Path, lines: int, timeout: float = 60) -> int:
    """Start the CLI, SIGKILL it once ``path`` holds ``lines`` complete lines; returns the count then."""
    process = subprocess.Popen(cli(*args), cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            if path.exists() and path.read_bytes().count(b"\n") >= lines:
                os.kill(process.pid, signal.SIGKILL)
                process.wait(10)
                return path.read_bytes().count(b"\n")
            if process.poll() is not None:
                raise AssertionError(
                    f"the run ended (rc {process.returncode}) before {lines} lines were written"
                )
            time.sleep(0.01)
        raise AssertionError(f"{path} did not reach {lines} lines in {timeout} s")
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(10)
