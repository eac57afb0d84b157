"""BBT-FinCUGE (ssymmetry/BBT-FinCUGE-Applications @ 654d132, ``FinCUGE_Publish/<task>/``): nine
Chinese financial NLP tasks, one folder each, each with its own record layout.

``train_list.json`` and ``eval_list.json`` hold labelled records as positional lists;
``problem_list.json`` holds ``[{id, input}]`` without gold (the hidden test part), so its records are
rejected as ``unlabelled``.  The layouts below were read from the published files and the task
descriptions in the upstream README; the train files of FinNE and FinNSP still carry their header
row (``trainingSourceData, Sentiment`` and ``id, title, text, entity, negative, key_entity``),
which names the fields and is rejected as ``bad_label``.

| task | labelled record | problem ``input`` | row |
|---|---|---|---|
| fincqa | ``[question+text, answer]`` | str | causal event QA, free text |
| finqa | ``[question+text, answer]`` | str | event QA (DuEE-fin), free text; not English FinQA |
| finna | ``[summary, news]`` | str | one-sentence news summary, free text |
| finfe | ``[text, 0/1/2]`` | str | social-media sentiment label 消极/中性/积极 |
| finne | ``[text, "0.0"/"0.5"/"1.0"]`` | str | news sentiment label 消极/中性/积极 |
| finnl | ``[news, "label label"]`` | str | multi-label news category, space-separated |
| finre | ``[head, tail, relation, text]`` | ``[head, tail, text]`` | relation label (44 classes) |
| finese | ``[id, text, event_type, entity]`` | ``[text, event_type]`` | subject of the event; ``NaN`` = none |
| finnsp | ``[id, title, text, entities, 0/1, key_entities]`` | ``[title, text, entities]`` | "是，主体" / "否" |

Every row's question carries the task's instruction.  A folder whose name is not one of these
tasks, or a file whose first record does not have its task's layout, is refused (RecordError):
a wrong guess would pair prompts with the wrong golds.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from finr1_verl.data.records import Example, RecordError
from finr1_verl.data.sources.base import (
    BAD_LABEL,
    EMPTY_ANSWER,
    INVALID_RECORD,
    UNLABELLED,
    IdGuard,
    ParseItem,
    Rejected,
    load_json,
    require_text,
    text,
)
from finr1_verl.prompts import FINFE_QUESTION
from finr1_verl.reward.answer_type import classify_answer

SOURCE = "fincuge"
SPLIT_FILES = {"train_list.json": "train", "eval_list.json": "eval", "problem_list.json": "problem"}

# FinFE: "消极-中性-积极" (upstream README, task FinFE) in the order of its integer gold labels 0, 1, 2.
FINFE_LABELS: dict[str, str] = {"0": "消极", "1": "中性", "2": "积极"}
# FinNE's sentiment scores (its header names the column "Sentiment"): 0.0 / 0.5 / 1.0.
FINNE_LABELS: dict[str, str] = {"0.0": "消极", "0.5": "中性", "1.0": "积极"}
# FinNL's categories (upstream README, task FinNL).
FINNL_CATEGORIES = (
    "公司", "行业", "大盘", "中国", "外国", "国际", "经济", "政策", "政治", "期货", "债券", "房地产",
    "外汇", "虚拟货币", "新冠", "能源", "其它",
)  # fmt: skip
# FinRE's 44 relation classes as they appear in its train file; "unknown" = none of the others.
FINRE_RELATIONS = (
    "unknown", "自己", "合作", "竞争", "拥有", "被拥有", "持股", "被持股", "签约", "分析", "被分析", "纠纷",
    "交易", "收购", "被收购", "重组", "减持", "被减持", "增持", "被增持", "订单", "合并", "入股", "被入股",
    "注资", "被注资", "帮助", "被帮助", "合资", "成立", "被成立", "拟收购", "被拟收购", "买资", "被买资",
    "发行", "被发行", "商讨", "转让", "被转让", "欠款", "被欠款", "借壳", "被借壳",
)  # fmt: skip

EVENT_QA_INSTRUCTION = (
    "请阅读下面的金融文本，回答开头关于其中事件的问题。答案为事件类型或事件要素；"
    "文中没有相应内容时如实说明。\n{text}"
)
FINNA_QUESTION = "请为下面的金融新闻写一句话摘要。\n新闻：{text}"
FINNE_QUESTION = "以下是一段金融新闻文本，请判断其情绪倾向。\n文本：{text}"
FINNL_QUESTION = (
    "请判断下面的金融新闻属于哪些类别（可多选）。类别：" + "、".join(FINNL_CATEGORIES) + "。"
    "只回答类别名称，多个类别用空格分隔。\n新闻：{text}"
)
FINRE_QUESTION = "请判断下面的金融新闻中实体“{head}”与实体“{tail}”之间的关系。\n新闻：{text}"
FINESE_QUESTION = "下面的金融文本中发生了“{event}”类事件，请找出该事件的主体。\n文本：{text}"
FINNSP_QUESTION = (
    "请判断下面的金融文本是否包含针对所列实体的负面信息。如果包含，回答“是，”并写出负面信息的主体"
    "（多个主体用分号分隔）；否则回答“否”。\n{body}\n实体：{entities}"
)


@dataclass(frozen=True)
class Reading:
    """What one labelled record becomes: the rendered question and the gold, or a reject reason."""

    question: str = ""
    answer: str = ""
    answer_type: str = "text"
    choices: dict[str, str] | None = None
    reason: str = ""
    detail: str = ""


@dataclass(frozen=True)
class Task:
    fields: tuple[str, ...]  # a labelled record's positional fields
    problem_fields: tuple[str, ...] | None  # a problem's ``input`` list fields; None = one string
    read: Callable[[dict[str, str]], Reading]


def _event_qa(f: dict[str, str]) -> Reading:
    return Reading(
        EVENT_QA_INSTRUCTION.format(text=f["input"]), f["answer"], classify_answer(f["answer"], {})
    )


def _labelled(question: str, labels: dict[str, str]) -> Callable[[dict[str, str]], Reading]:
    def read(f: dict[str, str]) -> Reading:
        if f["label"] not in labels:
            return Reading(reason=BAD_LABEL, detail=f"label {f['label']!r} not in {sorted(labels)}")
        return Reading(question.format(text=f["text"]), f["label"], "label", dict(labels))

    return read


def _finna(f: dict[str, str]) -> Reading:
    return Reading(FINNA_QUESTION.format(text=f["news"]), f["summary"])


def _finnl(f: dict[str, str]) -> Reading:
    labels = f["labels"].split()
    unknown = [label for label in labels if label not in FINNL_CATEGORIES]
    if unknown:
        return Reading(reason=BAD_LABEL, detail=f"categories {unknown} not in the task's list")
    return Reading(FINNL_QUESTION.format(text=f["news"]), " ".join(labels))


def _finre(f: dict[str, str]) -> Reading:
    if f["relation"] not in FINRE_RELATIONS:
        return Reading(reason=BAD_LABEL, detail=f"relation {f['relation']!r} not one of the task's 44")
    question = FINRE_QUESTION.format(head=f["head"], tail=f["tail"], text=f["text"])
    return Reading(question, f["relation"], "label", {name: name for name in FINRE_RELATIONS})


def _finese(f: dict[str, str]) -> Reading:
    if f["entity"] == "NaN":
        return Reading(
            reason=EMPTY_ANSWER, detail=f"entity is NaN (no subject for event type {f['event']!r})"
        )
    return Reading(FINESE_QUESTION.format(event=f["event"], text=f["text"]), f["entity"])


def _finnsp(f: dict[str, str]) -> Reading:
    if f["negative"] not in ("0", "1"):
        return Reading(reason=BAD_LABEL, detail=f"negative flag {f['negative']!r} not 0/1")
    if f["negative"] == "1" and not f["key_entities"]:
        return Reading(reason=EMPTY_ANSWER, detail="negative flag 1 without key_entity")
    title = f["title"] if f["title"] and f["title"] != f["text"] else ""
    body = f"标题：{title}\n正文：{f['text']}" if title else f"正文：{f['text']}"
    answer = f"是，{f['key_entities']}" if f["negative"] == "1" else "否"
    return Reading(FINNSP_QUESTION.format(body=body, entities=f["entities"]), answer)


TASKS: dict[str, Task] = {
    "fincqa": Task(("input", "answer"), None, _event_qa),
    "finqa": Task(("input", "answer"), None, _event_qa),
    "finna": Task(("summary", "news"), None, _finna),
    "finfe": Task(("text", "label"), None, _labelled(FINFE_QUESTION, FINFE_LABELS)),
    "finne": Task(("text", "label"), None, _labelled(FINNE_QUESTION, FINNE_LABELS)),
    "finnl": Task(("news", "labels"), None, _finnl),
    "finre": Task(("head", "tail", "relation", "text"), ("head", "tail", "text"), _finre),
    "finese": Task(("id", "text", "event", "entity"), ("text", "event"), _finese),
    "finnsp": Task(
        ("id", "title", "text", "entities", "negative", "key_entities"),
        ("title", "text", "entities"),
        _finnsp,
    ),
}


def parse(path: str | Path) -> Iterator[ParseItem]:
    guard = IdGuard(SOURCE)
    for file in _task_files(Path(path)):
        task_name = file.parent.name.lower()
        task = TASKS.get(task_name)
        if task is None:
            raise RecordError(
                file.parent, "<folder>", "<task>", f"unknown FinCUGE task; known: {', '.join(sorted(TASKS))}"
            )
        split = SPLIT_FILES[file.name]
        records = load_json(file)
        if not isinstance(records, list):
            raise RecordError(file, "<document>", "<root>", "expected a JSON list")
        if split == "problem":
            yield from _problems(file, task_name, task, records)
        else:
            yield from _labelled_records(file, task_name, task, split, records, guard)


def _task_files(path: Path) -> list[Path]:
    """The list files of one task folder, of a folder of task folders, or one list file."""
    if path.is_file():
        if path.name not in SPLIT_FILES:
            raise RecordError(path, "<file>", "<name>", f"not a FinCUGE list file ({', '.join(SPLIT_FILES)})")
        return [path]
    if not path.is_dir():
        raise FileNotFoundError(f"{path}: no such file or directory")
    folders = [path] if any((path / name).exists() for name in SPLIT_FILES) else sorted(path.iterdir())
    files = [folder / name for folder in folders for name in SPLIT_FILES if (folder / name).is_file()]
    if not files:
        raise FileNotFoundError(f"{path}: no FinCUGE task folder (train_list/eval_list/problem_list.json)")
    return files


def _check_layout(file: Path, task_name: str, fields: tuple[str, ...] | None, value: Any, index: int) -> bool:
    """True when ``value`` has the task's layout; the first record of a file must have it."""
    ok = isinstance(value, str) if fields is None else isinstance(value, list) and len(value) == len(fields)
    if not ok and index == 0:
        expected = "a string" if fields is None else f"a list [{', '.join(fields)}]"
        raise RecordError(
            file, 0, "<record>", f"FinCUGE {task_name} records are {expected}; got {value!r:.120}"
        )
    return ok


def _labelled_records(
    file: Path, task_name: str, task: Task, split: str, records: list, guard: IdGuard
) -> Iterator[ParseItem]:
    for index, record in enumerate(records):
        rid = f"{task_name}/{split}/{index}"
        if not _check_layout(file, task_name, task.fields, record, index):
            detail = f"expected a list [{', '.join(task.fields)}]"
            yield Rejected(SOURCE, str(file), index, INVALID_RECORD, detail, rid)
            continue
        fields = {name: text(value) for name, value in zip(task.fields, record, strict=True)}
        reading = task.read(fields)
        if reading.reason:
            yield Rejected(SOURCE, str(file), index, reading.reason, reading.detail, rid)
            continue
        problem = require_text(SOURCE, str(file), index, rid, reading.question, reading.answer)
        if problem:
            yield problem
            continue
        example = Example(
            source=SOURCE,
            id=rid,
            question=reading.question,
            answer=reading.answer,
            answer_type=reading.answer_type,
            split=split,
            choices=reading.choices or {},
            meta={"task": task_name},
        )
        yield guard.check(example, str(file), index)


def _problems(file: Path, task_name: str, task: Task, records: list) -> Iterator[ParseItem]:
    for index, record in enumerate(records):
        if not isinstance(record, dict) or "input" not in record:
            raise RecordError(file, index, "input", "problem_list records are {id, input}")
        _check_layout(file, task_name, task.problem_fields, record["input"], index)
        rid = f"{task_name}/problem/{record.get('id', index)}"
        yield Rejected(SOURCE, str(file), index, UNLABELLED, "problem_list has no gold answer", rid)
