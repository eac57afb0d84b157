"""ConvFinQA (czyssrs/ConvFinQA @ cf3eed2): conversations of numeric questions over a FinQA report page.

One example per turn; the earlier turns (question and answer) travel in ``meta["history"]`` and
the renderer puts them in the prompt.  ``meta["group"]`` is the conversation id, so the train/val
split keeps all turns of one conversation together.  Three layouts are read (upstream README,
"Dataset"):

- the official conversation files ``train.json`` / ``dev.json`` / ``test.json``: ``annotation
  {dialogue_break, turn_program, exe_ans_list, qa_split}`` with ``qa`` or ``qa_0``/``qa_1``.
  Each turn's gold is its executed answer, except the last turn of each original FinQA question,
  whose human answer is ``qa[_k].answer`` (the executed value stays a second reading).  The private
  test file has ``dialogue_break`` only: its turns are rejected as ``unlabelled``;
- the official turn files ``train_turn.json`` / ``dev_turn.json`` / ``test_turn.json``: one entry
  per turn, the conversation's fields plus ``annotation{cur_dial, exe_ans, cur_program, turn_ind}``
  (the upstream generator reads ``entry["annotation"]["cur_dial"]`` and ``["exe_ans"]``,
  ``code/finqanet_generator/finqa_utils.py``).  An entry gives only its own turn, with the same id,
  gold and history as that turn of the conversation file, so both files give the same rows;
- the reformatted files (``{split: [{id, doc{pre_text, post_text, table{col: {row: value}}},
  dialogue{conv_questions, conv_answers, turn_program, executed_answers, qa_split}}]}``).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from finr1_verl.data.records import Example, RecordError
from finr1_verl.data.sources.base import (
    INVALID_RECORD,
    UNLABELLED,
    IdGuard,
    ParseItem,
    Rejected,
    files_under,
    format_number,
    load_json,
    report_context,
    report_page,
    require_text,
    split_from_name,
    text,
)
from finr1_verl.reward.answer_type import classify_answer

SOURCE = "convfinqa"


@dataclass(frozen=True)
class Conversation:
    """One conversation: its questions, the executed answer of each turn (empty without gold) and
    the human answers of the turns that have one."""

    conv_id: str
    questions: list[str]
    executed: list[str]
    human: dict[int, str]
    context: str

    def answer(self, turn: int) -> str:
        return self.human.get(turn) or self.executed[turn]


def parse(path: str | Path) -> Iterator[ParseItem]:
    guard = IdGuard(SOURCE)
    for file in files_under(path, (".json",)):
        document = load_json(file)
        if isinstance(document, dict):
            for split, conversations in sorted(document.items()):
                if not isinstance(conversations, list):
                    raise RecordError(file, "<document>", split, "expected a list of conversations")
                for index, conv in enumerate(conversations):
                    record = f"{split}[{index}]"
                    items = _checked_turns(_reformatted(conv, record), file, record, split)
                    yield from _guarded(guard, items, file)
        elif isinstance(document, list):
            split = split_from_name(file)
            for index, entry in enumerate(document):
                yield from _guarded(guard, _entry(entry, file, index, split), file)
        else:
            raise RecordError(file, "<document>", "<root>", "expected a list or an object of lists")


def _guarded(guard: IdGuard, items: Iterator[ParseItem], file: Path) -> Iterator[ParseItem]:
    for item in items:
        yield guard.check(item, str(file), item.id) if isinstance(item, Example) else item


def _entry(entry: Any, file: Path, index: int, split: str) -> Iterator[ParseItem]:
    annotation = entry.get("annotation") if isinstance(entry, dict) else None
    if not isinstance(annotation, dict):
        yield Rejected(SOURCE, str(file), index, INVALID_RECORD, "no 'annotation' object")
        return
    conv = _official(entry, annotation, f"{file.stem}-{index}")
    if "cur_dial" not in annotation:
        yield from _checked_turns(conv, file, index, split)
        return
    turn = int(annotation.get("turn_ind", len(annotation["cur_dial"]) - 1))
    exe = annotation.get("exe_ans")
    executed = [*conv.executed[:turn], format_number(exe)] if exe is not None else []
    questions = [text(q) for q in annotation["cur_dial"]]
    one = Conversation(conv.conv_id.removesuffix(f"_{turn}"), questions, executed, conv.human, conv.context)
    yield from _checked_turns(one, file, index, split, only=turn)


def _official(conv: dict, annotation: dict, fallback_id: str) -> Conversation:
    questions = [text(q) for q in annotation.get("dialogue_break") or []]
    executed = [format_number(v) for v in annotation.get("exe_ans_list") or []]
    human = _final_answers(conv, annotation.get("qa_split") or [0] * len(questions)) if executed else {}
    context = report_context(conv.get("pre_text"), conv.get("table") or [], conv.get("post_text"))
    return Conversation(text(conv.get("id")) or fallback_id, questions, executed, human, context)


def _final_answers(conv: dict, qa_split: list) -> dict[int, str]:
    """Turn index -> human answer of the original FinQA question that the turn completes."""
    finals: dict[int, str] = {}
    for segment in sorted({int(s) for s in qa_split}):
        qa = conv.get(f"qa_{segment}") if f"qa_{segment}" in conv else conv.get("qa")
        last_turn = max(i for i, s in enumerate(qa_split) if int(s) == segment)
        if isinstance(qa, dict) and text(qa.get("answer")):
            finals[last_turn] = text(qa["answer"])
    return finals


def _reformatted(conv: Any, record: str) -> Conversation | Rejected:
    if not isinstance(conv, dict) or not isinstance(conv.get("dialogue"), dict):
        return Rejected(SOURCE, "", record, INVALID_RECORD, "no 'dialogue' object")
    doc, dialogue = conv.get("doc") or {}, conv["dialogue"]
    questions = [text(q) for q in dialogue.get("conv_questions") or []]
    executed = [format_number(v) for v in dialogue.get("executed_answers") or []]
    answers = [text(a) for a in dialogue.get("conv_answers") or []]
    if answers and len(answers) != len(questions):
        detail = f"{len(questions)} conv_questions but {len(answers)} conv_answers"
        return Rejected(SOURCE, "", record, INVALID_RECORD, detail, text(conv.get("id")))
    if answers and not executed:
        executed = [""] * len(answers)
    context = report_context(doc.get("pre_text"), _column_table(doc.get("table") or {}), doc.get("post_text"))
    return Conversation(
        text(conv.get("id")) or record, questions, executed, dict(enumerate(answers)), context
    )


def _column_table(table: Any) -> list[list[Any]]:
    """``{column: {row: value}}`` (the reformatted layout) as rows with a header row."""
    if isinstance(table, list):
        return table
    columns = list(table)
    row_names: list[str] = []
    for column in columns:
        row_names += [name for name in table[column] if name not in row_names]
    return [["", *columns]] + [[name, *(table[c].get(name, "") for c in columns)] for name in row_names]


def _checked_turns(
    conv: Conversation | Rejected, file: Path, record: str | int, split: str, only: int | None = None
) -> Iterator[ParseItem]:
    """One item per turn (only turn ``only`` when given): an example, or the turn's reject."""
    if isinstance(conv, Rejected):
        yield Rejected(SOURCE, str(file), conv.record, conv.reason, conv.detail, conv.id)
        return
    turns = range(len(conv.questions)) if only is None else [only]
    if not conv.executed:
        for turn in turns:
            rid = f"{conv.conv_id}#{turn}"
            yield Rejected(SOURCE, str(file), f"{record} turn {turn}", UNLABELLED, "no executed answers", rid)
        return
    wanted = len(conv.questions) if only is None else only + 1
    if len(conv.executed) != wanted or len(conv.questions) < wanted:
        detail = (
            f"{len(conv.questions)} questions, {len(conv.executed)} executed answers, {len(conv.human)} human"
        )
        yield Rejected(SOURCE, str(file), record, INVALID_RECORD, detail, conv.conv_id)
        return
    history = [{"question": q, "answer": conv.answer(t)} for t, q in enumerate(conv.questions[: wanted - 1])]
    for turn in turns:
        rid = f"{conv.conv_id}#{turn}"
        question, answer = conv.questions[turn], conv.answer(turn)
        problem = require_text(SOURCE, str(file), f"{record} turn {turn}", rid, question, answer)
        if problem:
            yield problem
            continue
        meta: dict[str, Any] = {
            "group": conv.conv_id,
            "turn": turn,
            "history": history[:turn],
            "document": report_page(conv.conv_id),
        }
        if conv.executed[turn]:
            meta["executed_answer"] = conv.executed[turn]
        yield Example(
            source=SOURCE,
            id=rid,
            question=question,
            answer=answer,
            answer_type=classify_answer(answer, {}),
            split=split,
            context=conv.context,
            meta=meta,
        )
