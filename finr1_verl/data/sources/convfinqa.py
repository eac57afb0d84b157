"""ConvFinQA (czyssrs/ConvFinQA): conversations of numeric questions over a FinQA report page.

One example per turn; the earlier turns (question and answer) travel in ``meta["history"]`` and
the renderer puts them in the prompt.  ``meta["group"]`` is the conversation id, so the train/val
split keeps all turns of one conversation together.  Three layouts are read:

- the official conversation files (``annotation{dialogue_break, turn_program, exe_ans_list,
  qa_split}`` with ``qa`` or ``qa_0``/``qa_1``): only executed answers exist per turn, except the
  last turn of each original FinQA question, whose human answer is ``qa[_k].answer``;
- the official turn files (``cur_dial``, ``exe_ans``, ``turn_ind`` on top of the above);
- the reformatted files (``{split: [{id, doc{pre_text, post_text, table{col: {row: value}}},
  dialogue{conv_questions, conv_answers, turn_program, executed_answers, qa_split}}]}``).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from finr1_verl.data.records import Example, RecordError
from finr1_verl.data.sources.base import (
    EMPTY_QUESTION,
    INVALID_RECORD,
    IdGuard,
    ParseItem,
    Rejected,
    classify_answer,
    files_under,
    format_number,
    load_json,
    report_context,
    require_text,
    split_from_name,
    text,
)

SOURCE = "convfinqa"


def parse(path: str | Path) -> Iterator[ParseItem]:
    guard = IdGuard(SOURCE)
    for file in files_under(path, (".json",)):
        document = load_json(file)
        if isinstance(document, dict):
            for split, conversations in sorted(document.items()):
                if not isinstance(conversations, list):
                    raise RecordError(file, "<document>", split, "expected a list of conversations")
                for index, conv in enumerate(conversations):
                    yield from _checked(guard, _reformatted(conv, file, f"{split}[{index}]", split), file)
        elif isinstance(document, list):
            split = split_from_name(file)
            for index, conv in enumerate(document):
                turns = (
                    _turn_level(conv, file, index, split)
                    if "cur_dial" in conv
                    else _official(conv, file, index, split)
                )
                yield from _checked(guard, turns, file)
        else:
            raise RecordError(file, "<document>", "<root>", "expected a list or an object of lists")


def _checked(guard: IdGuard, items: Iterator[ParseItem], file: Path) -> Iterator[ParseItem]:
    for item in items:
        yield guard.check(item, str(file), item.id) if isinstance(item, Example) else item


def _turn(
    *,
    file: Path,
    record: str | int,
    conv_id: str,
    turn: int,
    question: str,
    answer: str,
    executed: str,
    history: list[dict[str, str]],
    context: str,
    split: str,
) -> ParseItem:
    rid = f"{conv_id}#{turn}"
    problem = require_text(SOURCE, str(file), record, rid, question, answer)
    if problem:
        return problem
    meta: dict[str, Any] = {"group": conv_id, "turn": turn, "history": history}
    if executed:
        meta["executed_answer"] = executed
    return Example(
        source=SOURCE,
        id=rid,
        question=question,
        answer=answer,
        answer_type=classify_answer(answer),
        split=split,
        context=context,
        meta=meta,
    )


def _turns(
    file: Path,
    record: str | int,
    conv_id: str,
    questions: list,
    answers: list,
    executed: list,
    context: str,
    split: str,
) -> Iterator[ParseItem]:
    if len(answers) != len(questions) or len(executed) != len(questions):
        raise RecordError(file, record, "answers", f"{len(questions)} questions but {len(answers)} answers")
    history: list[dict[str, str]] = []
    for turn, (question, answer, exe) in enumerate(zip(questions, answers, executed, strict=True)):
        item = _turn(
            file=file,
            record=f"{record} turn {turn}",
            conv_id=conv_id,
            turn=turn,
            question=text(question),
            answer=answer,
            executed=exe,
            history=list(history),
            context=context,
            split=split,
        )
        yield item
        history.append({"question": text(question), "answer": answer})


def _reformatted(conv: Any, file: Path, record: str, split: str) -> Iterator[ParseItem]:
    if not isinstance(conv, dict) or not isinstance(conv.get("dialogue"), dict):
        yield Rejected(SOURCE, str(file), record, INVALID_RECORD, "no 'dialogue' object")
        return
    doc, dialogue = conv.get("doc") or {}, conv["dialogue"]
    conv_id = text(conv.get("id")) or record
    questions = dialogue.get("conv_questions") or []
    executed = [format_number(v) for v in dialogue.get("executed_answers") or []]
    answers = [text(a) for a in dialogue.get("conv_answers") or []] or executed
    context = report_context(doc.get("pre_text"), _column_table(doc.get("table") or {}), doc.get("post_text"))
    yield from _turns(file, record, conv_id, questions, answers, executed, context, split)


def _column_table(table: Any) -> list[list[Any]]:
    """``{column: {row: value}}`` (the reformatted layout) as rows with a header row."""
    if isinstance(table, list):
        return table
    columns = list(table)
    row_names: list[str] = []
    for column in columns:
        row_names += [name for name in table[column] if name not in row_names]
    return [["", *columns]] + [[name, *(table[c].get(name, "") for c in columns)] for name in row_names]


def _final_answers(conv: dict, qa_split: list) -> dict[int, str]:
    """Turn index -> human answer of the original FinQA question that the turn completes."""
    finals: dict[int, str] = {}
    segments = sorted({int(s) for s in qa_split})
    for segment in segments:
        qa = conv.get(f"qa_{segment}") if f"qa_{segment}" in conv else conv.get("qa")
        last_turn = max(i for i, s in enumerate(qa_split) if int(s) == segment)
        if isinstance(qa, dict) and text(qa.get("answer")):
            finals[last_turn] = text(qa["answer"])
    return finals


def _official(conv: Any, file: Path, index: int, split: str) -> Iterator[ParseItem]:
    annotation = conv.get("annotation") if isinstance(conv, dict) else None
    if not isinstance(annotation, dict):
        yield Rejected(SOURCE, str(file), index, INVALID_RECORD, "no 'annotation' object")
        return
    conv_id = text(conv.get("id")) or f"{file.stem}-{index}"
    questions = annotation.get("dialogue_break") or []
    executed = [format_number(v) for v in annotation.get("exe_ans_list") or []]
    finals = _final_answers(conv, annotation.get("qa_split") or [0] * len(questions))
    answers = [finals.get(turn, exe) for turn, exe in enumerate(executed)]
    context = report_context(conv.get("pre_text"), conv.get("table") or [], conv.get("post_text"))
    yield from _turns(file, index, conv_id, questions, answers, executed, context, split)


def _turn_level(entry: dict, file: Path, index: int, split: str) -> Iterator[ParseItem]:
    annotation = entry.get("annotation") or {}
    turn = int(entry.get("turn_ind", 0))
    raw_id = text(entry.get("id")) or f"{file.stem}-{index}"
    conv_id = raw_id.removesuffix(f"_{turn}")
    dialogue = entry.get("cur_dial") or []
    if not dialogue:
        yield Rejected(SOURCE, str(file), index, EMPTY_QUESTION, "cur_dial is empty", raw_id)
        return
    previous = [format_number(v) for v in (annotation.get("exe_ans_list") or [])[:turn]]
    history = [{"question": text(q), "answer": a} for q, a in zip(dialogue[:-1], previous, strict=False)]
    executed = format_number(entry.get("exe_ans"))
    yield _turn(
        file=file,
        record=index,
        conv_id=conv_id,
        turn=turn,
        question=text(dialogue[-1]),
        answer=executed,
        executed=executed,
        history=history,
        context=report_context(entry.get("pre_text"), entry.get("table") or [], entry.get("post_text")),
        split=split,
    )
