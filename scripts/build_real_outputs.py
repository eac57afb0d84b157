"""Build ``tests/fixtures/real_outputs/`` from local clones of the upstream repositories.

    python scripts/build_real_outputs.py --pot CLONE_OF_Program-of-Thoughts --rag CLONE_OF_ocr-agentic-rag

* wenhuchen/Program-of-Thoughts (MIT): ``outputs/tatqa_{cot,direct}{,_gpt3}_*.jsonl``, TAT-QA dev
  answers of code-davinci-002 and text-davinci-002.  The label is the exact match of the source's
  own TAT-QA metric (``eval_tatqa/tatqa_metric.py``, ``TaTQAEmAndF1``) on the source's parsed
  prediction (``pred_answer``, ``pred_scale``), as ``compute_score_tatqa.py`` calls it.
* leemingloon/ocr-agentic-rag (MIT, README and setup.py): ``data/proof/rag/{finqa,tatqa}/*/…_samples.json``,
  the repository's RAG answers on FinQA test/train and TAT-QA dev/test.  The label is the
  repository's own ``relaxed_exact_match`` (1.0 correct, 0.0 incorrect).

TAT-QA multi-span questions are left out (their gold is a list whose order and bagging the reward
does not model).  TAT-QA golds carry their scale: ``percent`` as ``%``, the others as a word.
Program-of-Thoughts keeps :data:`POT_PER_FILE` questions per model file, chosen by a hash of the
model and question id; ocr-agentic-rag is kept whole.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path

OUT = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "real_outputs"
POT_PER_FILE = 130
POT_FILES = {
    "tatqa_cot_s0_e-1_11_11_21_19.jsonl": "code-davinci-002 (chain of thought)",
    "tatqa_cot_gpt3_s0_e-1_11_13_21_05.jsonl": "text-davinci-002 (chain of thought)",
    "tatqa_direct_s0_e-1_11_12_11_46.jsonl": "code-davinci-002 (direct answer)",
    "tatqa_direct_gpt3_s0_e-1_11_13_18_15.jsonl": "text-davinci-002 (direct answer)",
}
RAG_MODEL = "claude-sonnet-4-6 (RAG pipeline)"
RAG_FILES = {
    "finqa": ("finqa/test/finqa_test_samples.json", "finqa/train/finqa_train_samples.json"),
    "tatqa": ("tatqa/dev/tatqa_dev_samples.json", "tatqa/test/tatqa_test_samples.json"),
}


def tatqa_gold(answer, scale: str) -> str:
    """A TAT-QA gold with its scale, as one string (``-22.22`` + percent -> ``-22.22%``)."""
    if isinstance(answer, list):
        if len(answer) != 1:
            raise ValueError(f"not a single answer: {answer!r}")
        answer = answer[0]
    text = str(answer).strip()
    if scale == "percent":
        return text if text.endswith("%") else f"{text}%"
    return f"{text} {scale}" if scale else text


def _digest(*parts: str) -> str:
    return hashlib.sha256("\0".join(parts).encode("utf-8")).hexdigest()


def pot_records(clone: Path) -> list[dict]:
    sys.path.insert(0, str(clone))
    from eval_tatqa.tatqa_metric import TaTQAEmAndF1  # the source's own metric

    records = []
    for name, model in POT_FILES.items():
        rows = []
        for line in (clone / "outputs" / name).read_text(encoding="utf-8").splitlines():
            data = json.loads(line)
            if data["answer_type"] == "multi-span" or not (data.get("generated") or [""])[0].strip():
                continue
            metric = TaTQAEmAndF1()
            metric(data, prediction=data["pred_answer"], pred_scale=data["pred_scale"])
            rows.append(
                {
                    "source": "Program-of-Thoughts/tatqa-dev",
                    "model": model,
                    "question_id": data["question_id"],
                    "gold": tatqa_gold(data["answer"], data["scale"]),
                    "output": data["generated"][0],
                    "label": "correct" if metric.get_overall_metric()[0] == 1.0 else "incorrect",
                }
            )
        rows.sort(key=lambda r: _digest(model, r["question_id"]))
        records += sorted(rows[:POT_PER_FILE], key=lambda r: r["question_id"])
    return records


def rag_records(clone: Path, dataset: str) -> list[dict]:
    records = []
    for rel in RAG_FILES[dataset]:
        for sample in json.loads((clone / "data" / "proof" / "rag" / rel).read_text(encoding="utf-8")):
            truth = sample["ground_truth"]
            if truth.get("answer_type") == "multi-span" or not sample["prediction"].strip():
                continue
            gold = (
                tatqa_gold(truth["answer"], truth.get("scale", "")) if dataset == "tatqa" else truth["answer"]
            )
            records.append(
                {
                    "source": f"ocr-agentic-rag/{dataset}-{sample['split']}",
                    "model": RAG_MODEL,
                    "question_id": sample["sample_id"],
                    "gold": gold,
                    "output": sample["prediction"],
                    "label": "correct" if sample["metrics"]["relaxed_exact_match"] == 1.0 else "incorrect",
                }
            )
    return records


def write(name: str, records: list[dict]) -> None:
    path = OUT / f"{name}.jsonl"
    with path.open("w", encoding="utf-8") as handle:
        for record in records:
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")
    correct = sum(r["label"] == "correct" for r in records)
    print(f"{path.name}: {len(records)} records, {correct} correct, {path.stat().st_size // 1024} KB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--pot", type=Path, required=True, help="clone of wenhuchen/Program-of-Thoughts")
    parser.add_argument("--rag", type=Path, required=True, help="clone of leemingloon/ocr-agentic-rag")
    args = parser.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    write("pot_tatqa", pot_records(args.pot))
    write("ocr_rag_finqa", rag_records(args.rag, "finqa"))
    write("ocr_rag_tatqa", rag_records(args.rag, "tatqa"))


if __name__ == "__main__":
    main()
