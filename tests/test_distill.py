"""Distillation against the loopback teacher: Fin-R1's request settings, trace parsing, faults, resume."""

from __future__ import annotations

import json

import pytest

from finr1_verl import prompts
from finr1_verl.data.build import SourceInput
from finr1_verl.data.distill import (
    DistillConfig,
    ReplyError,
    TeacherSettings,
    distill,
    example_from_dict,
    split_reply,
    summary_table,
)
from finr1_verl.data.jsonl_store import JsonlStore, read_latest
from finr1_verl.data.sources import parser_for
from finr1_verl.llm import ChatResult, LLMClient, Usage
from finr1_verl.smoke.fake_openai import Reply
from tests.support.teacher import COLUMNS, kill_when, question_of, run_cli, trace, write_questions

QUESTIONS = [
    {"id": "num", "question": "Revenue grew from 100 to 114. What is the growth rate?", "answer": "14%"},
    {
        "id": "mc",
        "question": "Which is a current asset?",
        "answer": "B",
        "choices": {"A": "Plant", "B": "Inventory"},
    },
    {
        "id": "open",
        "question": "Explain what liquidity means for a bank.",
        "answer": "The ability to meet obligations.",
        "type": "text",
    },
]


def teacher_client(url: str, **kw) -> LLMClient:
    kw = {"max_retries": 1, "backoff_base_s": 0.01, "backoff_max_s": 0.02, "timeout_s": 2.0} | kw
    return LLMClient(url, "deepseek-r1", cache_size=0, seed=None, **kw)


def run(tmp_path, url, records=QUESTIONS, **settings) -> dict:
    source = SourceInput("toy", write_questions(tmp_path / "toy.jsonl", records), COLUMNS)
    config = DistillConfig(out=tmp_path / "out", teacher=TeacherSettings(**settings), progress=False)
    return distill([source], teacher_client(url), config)


def result(content: str, reasoning: str | None = None, finish: str = "stop") -> ChatResult:
    return ChatResult(content, reasoning, finish, Usage(10, 20), "http://x/v1", "deepseek-r1")


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        (result("\\boxed{4}", reasoning="2 + 2 = 4"), ("2 + 2 = 4", "\\boxed{4}")),  # vLLM reasoning parser
        (
            result("<think>\n2 + 2 = 4\n</think>\n\n\\boxed{4}"),
            ("2 + 2 = 4", "\\boxed{4}"),
        ),  # template-opened
        (result("2 + 2 = 4\n</think>\n\\boxed{4}"), ("2 + 2 = 4", "\\boxed{4}")),  # prefilled: no opening tag
        (result("a</think>b</think>c"), ("a", "b</think>c")),  # the first close ends the trace
    ],
)
def test_split_reply_reads_every_server_layout(reply, expected):
    assert split_reply(reply) == expected


@pytest.mark.parametrize(
    ("reply", "kind"),
    [
        (result("2 + 2 = 4\n</think>\n\\boxed{4}", finish="length"), "truncated"),
        (result("The answer is 4."), "no_reasoning"),
        (result("\\boxed{4}", reasoning="   "), "no_reasoning"),
        (result("2 + 2 = 4\n</think>\n  "), "no_answer"),
        (result("", reasoning="2 + 2 = 4 and then"), "no_answer"),
    ],
)
def test_split_reply_refuses_unusable_traces(reply, kind):
    with pytest.raises(ReplyError) as err:
        split_reply(reply)
    assert err.value.kind == kind


def test_requests_follow_fin_r1_settings_and_k_samples_are_separate_draws(tmp_path, fake_openai):
    fake_openai.responder = lambda body: trace(
        "Step 1: 114 / 100 = 1.14.\nStep 2: growth 14%.", "So \\boxed{14%}."
    )
    report = run(tmp_path, fake_openai.base_url, samples=2)

    bodies = fake_openai.requests
    assert len(bodies) == 6  # 3 questions x k = 2, never merged into one request or cached
    for body in bodies:
        assert [m["role"] for m in body["messages"]] == ["user", "assistant"]  # no system prompt
        assert body["messages"][1]["content"] == prompts.TEACHER_THINK_PREFIX == "<think>\n"
        assert body["add_generation_prompt"] is False and body["continue_final_message"] is True
        assert body["temperature"] == 0.6 and body["max_tokens"] == 16384
        assert "seed" not in body  # independent draws
    asked = sorted(question_of(b) for b in bodies)
    assert [question_of(b).count("Revenue grew") for b in bodies].count(1) == 2
    boxed = [q for q in set(asked) if "\\boxed{}" in q]
    assert len(boxed) == 2 and all("liquidity" not in q for q in boxed)  # calculation + choice, not open

    records = list(read_latest(tmp_path / "out" / "traces.jsonl"))
    assert [(r["id"], r["sample"]) for r in records] == [
        (i, s) for i in ("mc", "num", "open") for s in (0, 1)
    ]
    first = records[2]
    assert first["status"] == "ok" and first["key"] == "toy/num#0"
    assert first["Thinking"] == "Step 1: 114 / 100 = 1.14.\nStep 2: growth 14%."
    assert first["Answer"] == "So \\boxed{14%}."
    assert first["Question"] in asked
    assert (
        first["teacher_model"] == "deepseek-r1" and first["prompt_version"] == prompts.DISTILL_PROMPT_VERSION
    )
    assert first["prompt_tokens"] > 0 and first["completion_tokens"] == 14  # words, as the fake server counts
    parsed = next(e for e in parser_for("toy", COLUMNS)(tmp_path / "toy.jsonl") if e.id == "num")
    assert example_from_dict(first["example"]) == parsed

    source = report["sources"]["toy"]
    assert (source["questions"], source["samples"], source["ok"], source["errors"]) == (3, 6, 6, 0)
    assert source["completion_tokens"] == 6 * 14
    assert "toy" in summary_table(report) and "TOTAL" in summary_table(report)


def test_server_mode_sends_no_prefix_and_reads_reasoning_content(tmp_path, fake_openai):
    fake_openai.responder = lambda body: Reply(
        content="\\boxed{B}", reasoning_content="Inventory is current."
    )
    run(tmp_path, fake_openai.base_url, records=QUESTIONS[1:2], force_thinking="server")
    body = fake_openai.requests[0]
    assert [m["role"] for m in body["messages"]] == ["user"]
    assert "continue_final_message" not in body and "add_generation_prompt" not in body
    (record,) = read_latest(tmp_path / "out" / "traces.jsonl")
    assert (record["Thinking"], record["Answer"]) == ("Inventory is current.", "\\boxed{B}")


def test_every_input_record_is_distilled_or_rejected_with_its_reason(tmp_path, fake_openai):
    fake_openai.responder = lambda body: trace("2 + 2 = 4", "\\boxed{4}")
    records = [*QUESTIONS, {"id": "empty", "question": "No answer here?", "answer": ""}]
    report = run(tmp_path, fake_openai.base_url, records=records)
    assert report["sources"]["toy"]["questions"] == 3
    rejects = [json.loads(line) for line in (tmp_path / "out" / "rejects.jsonl").read_text().splitlines()]
    assert [(r["id"], r["reason"]) for r in rejects] == [("empty", "empty_answer")]

    source = SourceInput("toy", tmp_path / "toy.jsonl", COLUMNS)
    config = DistillConfig(out=tmp_path / "limited", limit_per_source=1, progress=False)
    report = distill([source], teacher_client(fake_openai.base_url), config)
    assert report["sources"]["toy"]["questions"] == 1
    rejects = [json.loads(line) for line in (tmp_path / "limited" / "rejects.jsonl").read_text().splitlines()]
    assert sorted((r["id"], r["reason"]) for r in rejects) == [
        ("empty", "empty_answer"),
        ("mc", "over_limit"),
        ("open", "over_limit"),
    ]


FAULTY = [
    {"id": "good", "question": "Q-good: what is 2 + 2?", "answer": "4"},
    {"id": "down", "question": "Q-down: what is 2 + 3?", "answer": "5"},
    {"id": "noanswer", "question": "Q-noanswer: what is 2 + 4?", "answer": "6"},
    {"id": "cut", "question": "Q-cut: what is 2 + 5?", "answer": "7"},
    {"id": "nothink", "question": "Q-nothink: what is 2 + 6?", "answer": "8"},
    {"id": "garbled", "question": "Q-garbled: what is 2 + 7?", "answer": "9"},
]


def faulty_teacher(body: dict) -> Reply:
    question = question_of(body)
    if "Q-down" in question:
        return Reply(status=503)
    if "Q-noanswer" in question:
        return trace("thinking about it", "")
    if "Q-cut" in question:
        return trace("thinking", "\\boxed{7", finish_reason="length")
    if "Q-nothink" in question:
        return Reply(content="8")
    if "Q-garbled" in question:
        return Reply(fault="malformed_json")
    return trace("2 + 2 = 4", "\\boxed{4}")


def test_faults_become_error_records_and_a_rerun_asks_only_for_those(tmp_path, fake_openai):
    fake_openai.responder = faulty_teacher
    report = run(tmp_path, fake_openai.base_url, records=FAULTY, reply_retries=1)

    source = report["sources"]["toy"]
    assert (source["ok"], source["errors"]) == (1, 5)
    assert source["errors_by_kind"] == {
        "malformed": 1,
        "no_answer": 1,
        "no_reasoning": 1,
        "server": 1,
        "truncated": 1,
    }
    errors = {
        r["id"]: r["error"] for r in read_latest(tmp_path / "out" / "traces.jsonl") if r["status"] == "error"
    }
    assert "HTTP 503" in errors["down"]["message"] and errors["cut"]["kind"] == "truncated"
    # every fault was asked again within bounds: the client retries transport faults once, distill
    # draws a fresh reply once for an unusable trace
    asked = [question_of(b).split(":")[0] for b in fake_openai.requests]
    assert {q: asked.count(q) for q in set(asked)} == {
        "Q-good": 1,
        "Q-down": 2,
        "Q-noanswer": 2,
        "Q-cut": 2,
        "Q-nothink": 2,
        "Q-garbled": 2,
    }

    fake_openai.reset()
    fake_openai.responder = lambda body: trace("fixed", "\\boxed{1}")
    report = run(tmp_path, fake_openai.base_url, records=FAULTY, reply_retries=1)
    assert len(fake_openai.requests) == 5  # the good sample was not asked again
    assert (report["sources"]["toy"]["ok"], report["sources"]["toy"]["errors"]) == (6, 0)
    lines = (tmp_path / "out" / "traces.jsonl").read_text().splitlines()
    assert len(lines) == 6  # compacted: one line per key, the errors replaced
    assert [json.loads(line)["id"] for line in lines] == sorted(r["id"] for r in FAULTY)


def test_store_cuts_a_torn_last_line_and_the_last_line_of_a_key_wins(tmp_path):
    path = tmp_path / "store.jsonl"
    with JsonlStore(path) as store:
        store.append({"key": "s/a#0", "status": "error", "n": 1})
        store.append({"key": "s/b#10", "status": "ok", "n": 2})
        store.append({"key": "s/b#2", "status": "ok", "n": 3})
        store.append({"key": "s/a#0", "status": "ok", "n": 4})
    with open(path, "ab") as handle:
        handle.write(b'{"key": "s/c#0", "status": "o')  # a write cut by kill -9
    assert [r["n"] for r in read_latest(path)] == [4, 3, 2]  # readers skip the torn tail
    with JsonlStore(path) as store:
        assert store.torn_bytes == len(b'{"key": "s/c#0", "status": "o')
        assert store.done("s/a#0") and store.status("s/c#0") is None
        store.compact()
        store.append({"key": "s/c#0", "status": "ok", "n": 5})
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert [(r["key"], r["n"]) for r in lines] == [("s/a#0", 4), ("s/b#2", 3), ("s/b#10", 2), ("s/c#0", 5)]


def test_store_refuses_a_second_writer_and_names_a_broken_line(tmp_path):
    path = tmp_path / "store.jsonl"
    with JsonlStore(path), pytest.raises(RuntimeError, match="in use by another run"):
        JsonlStore(path)
    path.write_text('{"key": "s/a#0", "status": "ok"}\nnot json\n{"key": "s/b#0", "status": "ok"}\n')
    with pytest.raises(ValueError, match=r"store.jsonl: record line 2"):
        JsonlStore(path)


def numbered_teacher(body: dict) -> Reply:
    """Deterministic by question, slow enough that a kill lands mid-run."""
    question = question_of(body)
    number = int(question.split("#")[1].split()[0])
    return trace(f"Add one to {number}.", f"\\boxed{{{number + 1}}}", delay=0.05)


@pytest.mark.integration
@pytest.mark.slow
def test_sigkill_mid_run_then_rerun_gives_the_uninterrupted_output(tmp_path, fake_openai):
    fake_openai.responder = numbered_teacher
    records = [
        {"id": f"q{i:02d}", "question": f"Question #{i} plus one?", "answer": str(i + 1)} for i in range(40)
    ]
    source = write_questions(tmp_path / "toy.jsonl", records)

    def args(out: str) -> list[str]:
        return [
            "distill",
            "--source",
            f"toy={source}",
            "--columns",
            "toy:id=id",
            "--out",
            str(tmp_path / out),
            "--teacher-urls",
            fake_openai.base_url,
            "--teacher-model",
            "deepseek-r1",
            "--samples",
            "2",
            "--teacher-concurrency",
            "4",
            "--no-progress",
        ]

    whole = run_cli(*args("whole"))
    assert whole.returncode == 0, whole.stderr
    assert len(fake_openai.requests) == 80

    fake_openai.reset()
    written = kill_when(args("resumed"), tmp_path / "resumed" / "traces.jsonl", lines=20)
    assert 20 <= written < 80
    lost = len(fake_openai.requests) - written  # requests in flight when it died
    rerun = run_cli(*args("resumed"))
    assert rerun.returncode == 0, rerun.stderr
    assert len(fake_openai.requests) == 80 + lost and lost <= 4  # done samples were not asked again
    assert (tmp_path / "resumed" / "traces.jsonl").read_bytes() == (
        tmp_path / "whole" / "traces.jsonl"
    ).read_bytes()
    assert "toy" in rerun.stdout and "80" in rerun.stdout


def test_questions_carry_readings_that_agree(tmp_path):
    """ConvFinQA's dev excerpt has human answers that contradict the executed value: the question the
    teacher gets (and the filter later checks traces against) keeps only readings that agree."""
    from finr1_verl.data.distill import DistillConfig, _examples
    from finr1_verl.data.rows import ground_truths
    from finr1_verl.reward.match import Verdict, rule_verdict
    from tests.support.shared_data import shared_path

    examples = list(
        _examples([SourceInput("convfinqa", shared_path("convfinqa"))], DistillConfig(out=tmp_path))
    )
    assert len(examples) == 751
    for example in examples:
        readings = ground_truths(example)
        assert all(rule_verdict(a, b) is Verdict.EQUAL for a in readings for b in readings), example.id
