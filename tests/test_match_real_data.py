"""Accuracy of the rule verdict on the real financial datasets in ../shared/data."""

from __future__ import annotations

import csv
import json
from decimal import Decimal, InvalidOperation

import pyarrow.parquet as pq
import pytest

from finr1_verl.data.sources.fincuge import FINFE_LABELS
from finr1_verl.data.sources.tfns import TFNS_LABELS
from finr1_verl.reward.labels import normalize_text
from finr1_verl.reward.match import (
    MIN_COARSE_CANDIDATE_DIGITS,
    MIN_SECOND_WINDOW_DIGITS,
    Verdict,
    rule_verdict,
)
from finr1_verl.reward.score import read_sample
from tests.fixtures.answer.pairs import (
    convfinqa_pairs,
    convfinqa_turns,
    excluded_turns,
    finqa_pairs,
    finqa_rewrites,
    finqa_wrong_variants,
    mismatched_pairs,
)
from tests.fixtures.answer.real_rows import prepare_real_rows
from tests.support.shared_data import shared_path

CONVFINQA = ("convfinqa", "convfinqa_dev_part1.json")
EQUAL, DIFFERENT, UNDECIDED = Verdict.EQUAL, Verdict.DIFFERENT, Verdict.UNDECIDED


def _significant_digits(text: str) -> int:
    """Significant digits of a plain numeral ("4%" -> 1, "0.03621" -> 4); 99 for anything else."""
    try:
        return len(Decimal(text.strip().rstrip("%")).normalize().as_tuple().digits)
    except InvalidOperation:
        return 99


def _readings(text: str) -> list[tuple[Decimal, bool]]:
    """A plain numeral's values, each with whether it is the percent-number reading ("14%": 0.14, 14);
    none for anything else."""
    body = text.strip()
    try:
        number = Decimal(body.removesuffix("%"))
    except InvalidOperation:
        return []
    return [(number / 100, False), (number, True)] if body.endswith("%") else [(number, False)]


def _coarse(candidate: str, gold: str) -> bool:
    """A pair the rules leave to the judge: a candidate of fewer than MIN_COARSE_CANDIDATE_DIGITS digits
    written more coarsely than the gold, or a pair that matches only in a second window of a side with
    fewer than MIN_SECOND_WINDOW_DIGITS digits - a truncation ("6.88" and 6.88702, either way) or the
    percent number of a coarse candidate ("1.11%" for 1.11111)."""
    digits = _significant_digits(candidate)
    if digits < MIN_COARSE_CANDIDATE_DIGITS and digits < _significant_digits(gold):
        return True
    for coarse, fine, percent_number_counts in ((candidate, gold, True), (gold, candidate, False)):
        if _significant_digits(coarse) >= min(MIN_SECOND_WINDOW_DIGITS, _significant_digits(fine)):
            continue
        for value, percent_number in _readings(coarse):
            unit = Decimal(10) ** value.as_tuple().exponent
            for other, _ in _readings(fine):
                if percent_number and percent_number_counts and abs(other - value) <= unit / 2:
                    return True
                if not percent_number and unit / 2 < abs(other) - abs(value) < unit:
                    return True
    return False


def test_convfinqa_human_answers_equal_executed_values_both_ways():
    """Both directions, except a short human answer offered against the finer executed value alone.

    Such a candidate ("4%" or "11%" for 0.03621 or 0.10745) keeps no rounding tolerance of its own: a
    window that wide hits unrelated golds, so it is a question for the judge, never DIFFERENT (a data
    row carries the human answer as a reading too, which it matches exactly).
    """
    path = shared_path(*CONVFINQA)
    excluded = excluded_turns()
    pairs = []
    for pair in convfinqa_pairs(path):
        if pair.equal and _coarse(pair.candidate, pair.gold):
            assert rule_verdict(pair.candidate, pair.gold) is not DIFFERENT, pair
            assert rule_verdict(pair.candidate, [pair.candidate, pair.gold]) is EQUAL, pair
        else:
            pairs.append(pair)
    misses = [pair for pair in pairs if rule_verdict(pair.candidate, pair.gold) is not EQUAL]
    miss_turns = {_turn_key(pair.origin) for pair in misses}
    unlisted = [pair for pair in misses if _turn_key(pair.origin) not in excluded]
    kept = [pair for pair in pairs if _turn_key(pair.origin) not in excluded]
    print(
        f"\nConvFinQA dev part 1: {len(pairs)} directed pairs, {len(misses)} not EQUAL "
        f"(raw {1 - len(misses) / len(pairs):.2%}); excluded turns: {len(excluded)}"
    )
    print(f"{'kind':22} {'answer':>10} {'executed':>14}  reason")
    for key in sorted(miss_turns):
        entry = excluded.get(key, {"kind": "UNLISTED", "answer": "?", "executed": "?", "reason": ""})
        print(f"{entry['kind']:22} {entry['answer']:>10} {entry['executed']!s:>14}  {entry['reason']}")
    assert not unlisted, f"misses without a listed reason: {unlisted[:10]}"
    assert 1 - len(unlisted) / len(kept) >= 0.995
    assert len(kept) >= 0.95 * len(pairs), "the exclusion list must stay a small set of annotation issues"


def test_excluded_list_matches_the_data_and_every_entry_is_still_a_miss():
    path = shared_path(*CONVFINQA)
    answers = {(cid, turn): (answer, executed) for cid, turn, answer, executed in convfinqa_turns(path)}
    for key, entry in excluded_turns().items():
        assert entry["kind"] in {"annotation_error", "decrease_magnitude", "percent_without_sign"}
        assert entry["reason"]
        answer, executed = answers[key]
        assert (answer, float(executed)) == (entry["answer"], float(entry["executed"]))
        assert rule_verdict(answer, executed) is not EQUAL, f"{key} matches now: drop it from the list"


def test_decrease_magnitudes_are_sign_errors_not_rounding():
    for entry in excluded_turns().values():
        if entry["kind"] == "decrease_magnitude":
            assert float(entry["executed"]) < 0 and not entry["answer"].startswith("-")
            negated = "-" + entry["answer"]
            # a short answer coarser than the gold keeps no rounding tolerance of its own: the judge
            expected = {EQUAL} if not _coarse(entry["answer"], str(entry["executed"])) else {EQUAL, UNDECIDED}
            assert rule_verdict(negated, str(entry["executed"])) in expected, entry


def test_mismatched_convfinqa_pairs_are_never_equal():
    pairs = mismatched_pairs(shared_path(*CONVFINQA))
    assert len(pairs) > 1000
    wrongly_equal = [pair for pair in pairs if rule_verdict(pair.candidate, pair.gold) is EQUAL]
    assert not wrongly_equal, wrongly_equal[:10]


def test_finqa_answers_in_other_notations():
    pairs = finqa_pairs(shared_path("finqa", "finqa_test_first100.json"))
    rewrites = [pair for pair in pairs if pair.equal]
    wrong = [pair for pair in pairs if not pair.equal]
    assert len(rewrites) > 800 and len(wrong) > 200
    missed = [pair for pair in rewrites if rule_verdict(pair.candidate, pair.gold) is not EQUAL]
    accepted = [pair for pair in wrong if rule_verdict(pair.candidate, pair.gold) is EQUAL]
    assert not missed, missed[:10]
    assert not accepted, accepted[:10]


def test_finqa_yes_no_answers():
    records = json.loads(shared_path("finqa", "finqa_test_first100.json").read_text())["data"]
    golds = [record["answer"] for record in records if record["answer"] in ("yes", "no")]
    assert golds
    for gold in golds:
        other = "no" if gold == "yes" else "yes"
        assert rule_verdict(gold.capitalize() + ".", gold) is EQUAL
        assert rule_verdict("是" if gold == "yes" else "否", gold) is EQUAL
        assert rule_verdict(other, gold) is DIFFERENT


TFNS_WORDS = {
    "0": ("Bearish", "negative", "看跌", "bearish sentiment"),
    "1": ("Bullish", "positive", "看涨", "Sentiment: Bullish"),
    "2": ("Neutral", "neutral", "中性", "Neutral."),
}


def test_tfns_labels_in_words_and_ids():
    with shared_path("tfns", "sent_valid.csv").open(newline="") as handle:
        labels = [row["label"] for row in csv.DictReader(handle)]
    assert len(labels) == 2388 and set(labels) == set(TFNS_WORDS)
    for gold in labels:
        for label, words in TFNS_WORDS.items():
            expected = EQUAL if label == gold else DIFFERENT
            for candidate in (*words, label):
                assert rule_verdict(candidate, gold, "label", TFNS_LABELS) is expected, (candidate, gold)
        assert rule_verdict(TFNS_WORDS[gold][1], TFNS_LABELS[gold], "label") is EQUAL


def test_finfe_labels_in_words_and_ids():
    records = json.loads(shared_path("fincuge", "finfe", "eval_list.json").read_text())
    words = {"0": ("消极", "negative"), "1": ("中性", "neutral"), "2": ("积极", "positive")}
    for _, label in records:
        gold = str(label)
        for other, texts in words.items():
            expected = EQUAL if other == gold else DIFFERENT
            for candidate in (*texts, other):
                assert rule_verdict(candidate, gold, "label", FINFE_LABELS) is expected, (candidate, gold)


def _option_rows(folder: str, answer_column: str) -> list[dict[str, str]]:
    rows = []
    for path in sorted(shared_path(folder).rglob("*.csv")):
        with path.open(encoding="utf-8-sig", newline="") as handle:
            for row in csv.DictReader(handle):
                if row.get(answer_column, "").strip() and "A" in row:
                    rows.append(row)
    return rows


@pytest.mark.parametrize(("folder", "answer_column"), [("financeiq", "Answer"), ("ant_fineva", "answer")])
def test_exam_option_letters(folder, answer_column):
    rows = _option_rows(folder, answer_column)
    assert len(rows) > 1000
    for row in rows:
        gold = row[answer_column].strip()
        options = {letter: row[letter] for letter in "ABCDE" if row.get(letter, "").strip()}
        other = next(letter for letter in options if letter != gold)
        for candidate in (
            gold,
            f"({gold})",
            f"{gold}.",
            f"选{gold}",
            f"答案是{gold}",
            f"{gold}. {options[gold]}",
        ):
            assert rule_verdict(candidate, gold, "choice", options) is EQUAL, (candidate, gold)
        assert rule_verdict(other, gold, "choice", options) is DIFFERENT
        normalised = [normalize_text(option) for option in options.values()]
        if normalised.count(normalize_text(options[gold])) == 1:
            assert rule_verdict(options[gold], gold, "choice", options) is EQUAL, (options[gold], gold)


def test_fin_eva_compliance_yes_no():
    golds = []
    for path in sorted(shared_path("ant_fineva", "Ant", "安全合规").glob("*.csv")):
        with path.open(encoding="utf-8-sig", newline="") as handle:
            golds += [row["answer"].strip() for row in csv.DictReader(handle) if row["answer"].strip()]
    assert len(golds) > 200 and set(golds) == {"是", "否"}
    for gold in golds:
        assert rule_verdict(gold, gold) is EQUAL
        assert rule_verdict("yes" if gold == "是" else "no", gold, "boolean") is EQUAL
        assert rule_verdict("否" if gold == "是" else "是", gold) is DIFFERENT


def _turn_key(origin: str) -> tuple[str, int]:
    _, conversation_id, turn = origin.rsplit(":", 2)
    return conversation_id, int(turn)


@pytest.fixture(scope="module")
def real_numeric_golds(tmp_path_factory) -> list[tuple[str, ...]]:
    """The readings of every numeric row prepared from the real data (both excerpts)."""
    paths = prepare_real_rows(shared_path(), tmp_path_factory.mktemp("real_rows"))
    golds = []
    for path in paths:
        for row in pq.read_table(path).to_pylist():
            sample = read_sample(row["data_source"], row["reward_model"]["ground_truth"], row["extra_info"])
            if sample.answer_type == "numeric":
                golds.append(sample.readings)
    return golds


def test_notation_variants_of_every_real_numeric_gold(real_numeric_golds):
    """EQUAL recall >= 99.8% over the labelled pairs and other notations of every real numeric gold;
    wrong variants (50% off, sign flipped, x100 without a percent sign) are never EQUAL."""
    assert len(real_numeric_golds) > 800
    variants = missed = wrong_total = 0
    misses, accepted = [], []
    for readings in real_numeric_golds:
        for gold in readings:
            for rewrite in finqa_rewrites(gold):
                variants += 1
                if rule_verdict(rewrite, readings, "numeric") is not EQUAL:
                    missed += 1
                    misses.append((rewrite, readings))
            for wrong in finqa_wrong_variants(gold):
                if rule_verdict(wrong, gold, "numeric") is EQUAL:
                    accepted.append((wrong, gold))
                wrong_total += 1
    labelled = [p for p in finqa_pairs(shared_path("finqa", "finqa_test_first100.json")) if p.equal]
    labelled += [p for p in convfinqa_pairs(shared_path(*CONVFINQA)) if p.equal]
    # a short answer coarser than its gold is the judge's question (never DIFFERENT), not a rule EQUAL
    coarse = [p for p in labelled if _coarse(p.candidate, p.gold)]
    assert all(rule_verdict(p.candidate, p.gold) is not DIFFERENT for p in coarse)
    labelled = [p for p in labelled if not _coarse(p.candidate, p.gold)]
    labelled_misses = sum(rule_verdict(p.candidate, p.gold) is not EQUAL for p in labelled)
    recall = 1 - (missed + labelled_misses) / (variants + len(labelled))
    print(
        f"\nnotation variants: {variants}, labelled pairs: {len(labelled)}, EQUAL recall {recall:.3%}; "
        f"wrong variants: {wrong_total}, accepted {len(accepted)}"
    )
    assert variants > 5_000 and wrong_total > 1_000
    assert recall >= 0.998, misses[:20]
    assert accepted == [], accepted[:20]
