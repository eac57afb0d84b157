"""One command-line vocabulary: the same endpoint flags per model role in finr1-data and finr1-eval,
and the exit codes of finr1_verl.exitcodes (done, failed, bad input, incomplete, no GPU)."""

from __future__ import annotations

import argparse

import pytest

from finr1_verl import exitcodes
from finr1_verl.data import cli as data_cli
from finr1_verl.data.build import SourceInput
from finr1_verl.data.distill import DistillConfig, distill
from finr1_verl.eval import cli as eval_cli
from finr1_verl.llm import LLMClient
from finr1_verl.smoke.fake_openai import Reply
from tests.support.teacher import COLUMNS, trace, write_questions

ENDPOINT_FLAGS = ("urls", "concurrency", "timeout", "retries")


def subcommand_options(parser: argparse.ArgumentParser, name: str) -> set[str]:
    subparsers = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return {flag for action in subparsers.choices[name]._actions for flag in action.option_strings}


@pytest.mark.parametrize(
    ("parser", "command", "roles"),
    [
        (data_cli.build_parser(), "distill", ("teacher",)),
        (data_cli.build_parser(), "filter", ("judge",)),
        (eval_cli.build_parser(), "run", ("model", "judge")),
    ],
)
def test_every_model_role_has_the_same_endpoint_flags(parser, command, roles):
    options = subcommand_options(parser, command)
    for role in roles:
        assert {f"--{role}-{flag}" for flag in ENDPOINT_FLAGS} <= options, role
    # no unqualified endpoint flag that would mean a different role in another command
    assert not options & {"--concurrency", "--timeout", "--retries", "--max-retries", "--endpoint"}


def test_exit_codes_are_distinct():
    codes = [exitcodes.DONE, exitcodes.FAILED, exitcodes.BAD_INPUT, exitcodes.INCOMPLETE, exitcodes.NO_GPU]
    assert codes == [0, 1, 2, 3, 4]


QUESTIONS = [
    {"id": "a", "question": "Q-a: what is 2 + 2?", "answer": "4"},
    {"id": "b", "question": "Q-b: what is 2 + 3?", "answer": "5"},
]


def test_distill_and_filter_with_failed_requests_exit_incomplete(tmp_path, fake_openai, monkeypatch):
    monkeypatch.delenv("FINR1_JUDGE_URLS", raising=False)
    source = write_questions(tmp_path / "toy.jsonl", QUESTIONS)
    fake_openai.responder = lambda body: (
        Reply(status=503) if "Q-b" in body["messages"][0]["content"] else trace("2 + 2 = 4", "\\boxed{4}")
    )
    argv = ["distill", "--source", f"toy={source}", "--columns", "toy:id=id", "--out", str(tmp_path / "d")]
    argv += ["--teacher-urls", fake_openai.base_url, "--teacher-retries", "0", "--no-progress"]
    assert data_cli.main(argv) == exitcodes.INCOMPLETE

    fake_openai.responder = lambda body: trace("2 + 2 = 4", "\\boxed{4}")
    client = LLMClient(fake_openai.base_url, "teacher", cache_size=0, seed=None)
    config = DistillConfig(out=tmp_path / "traces", progress=False)
    distill([SourceInput("toy", source, COLUMNS)], client, config)
    fake_openai.responder = lambda body: Reply(status=503)  # the judge is down
    argv = ["filter", "--traces", str(tmp_path / "traces"), "--out", str(tmp_path / "f"), "--no-progress"]
    argv += ["--judge-urls", fake_openai.base_url, "--judge-retries", "0"]
    assert data_cli.main(argv) == exitcodes.INCOMPLETE


def test_filter_reads_the_judge_urls_from_the_environment(tmp_path, fake_openai, monkeypatch):
    source = write_questions(tmp_path / "toy.jsonl", QUESTIONS[:1])
    fake_openai.responder = lambda body: trace("2 + 2 = 4", "\\boxed{4}")
    client = LLMClient(fake_openai.base_url, "teacher", cache_size=0, seed=None)
    distill([SourceInput("toy", source, COLUMNS)], client, DistillConfig(out=tmp_path / "t", progress=False))
    fake_openai.reset()
    fake_openai.responder = lambda body: Reply("\\boxed{1111111}")  # stage B: all seven criteria hold
    monkeypatch.setenv("FINR1_JUDGE_URLS", fake_openai.base_url)
    argv = ["filter", "--traces", str(tmp_path / "t"), "--out", str(tmp_path / "f"), "--no-progress"]
    assert data_cli.main(argv) == exitcodes.DONE
    assert len(fake_openai.requests) == 1  # the rules passed stage A; the judge rated stage B
