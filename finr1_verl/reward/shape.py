"""Which answers may reach the judge: per answer type, only an answer of the right shape.

An LLM judge accepts content-free answers far too often ("One Token to Fool LLM-as-a-Judge", arXiv
2507.08794: false-positive rates up to 80-90%), so in training the judge is shown only answers that
could be right by their shape; everything else is decided by the rules:

* ``choice`` - exactly one valid option (its letter, or the option's own text), or as many as the gold
  holds;
* ``label`` / ``boolean`` - one label of the row's label set or a listed synonym
  (:func:`~finr1_verl.reward.labels.canonical_label`);
* ``numeric`` - one quantity: one number (:func:`~finr1_verl.reward.numbers.parse_number`) with its
  unit, scale or currency, and besides it only words of :data:`NUMERIC_WORDS` (a closed list:
  approximately, about, roughly, 约, ...) and at most :data:`MAX_UNIT_WORDS` unit words after the
  number (``150,000 square feet``), after a lead-in without digits that ends in a colon; never a
  reference word (:data:`REFERENCE_WORDS`: ``Step 1 of 3``,
  ``see note 3``);
* ``text`` - any answer (the hack guard reads the content-free classes).

A gold that does not read as its type (a choice gold without letters, a numeric gold that is not a
number) makes the row a text row here too.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from finr1_verl.reward.labels import canonical_label, choice_letters
from finr1_verl.reward.normalise import fold, splits_into
from finr1_verl.reward.numbers import VOCABULARY, parse_number, stated_span

# Words that may stand beside the one number of a numeric answer (besides the number vocabulary of
# finr1_verl.reward.numbers: scales, currencies, percent words, signs, directions).
_NUMERIC_WORDS = """
    approximately approx about roughly around nearly almost circa some estimated an a the total
    final answer is of net change increase increased growth rate ratio per by at
    约 大约 约为 大概 左右 近 将近 共 合计 总计 约合 为 是 答案 增长 增加 变化
"""
NUMERIC_WORDS = frozenset(_NUMERIC_WORDS.split())
# Unit words an answer may carry after its number ("3 years", "150,000 square feet").
MAX_UNIT_WORDS = 2
# Words that point elsewhere instead of stating a quantity: never part of a numeric answer.
_REFERENCE_WORDS = """
    step steps stage part section line row column item question note notes page table figure fig
    equation eq see above below refer reference computed calculated shown reasoning calculation
    calculations solution work key tbd pending placeholder insert here 步 步骤 第 见 上文 详见
"""
REFERENCE_WORDS = frozenset(_REFERENCE_WORDS.split())
_WORD = re.compile(r"[^\W\d_]+")


def judge_shape(
    answer: str,
    answer_type: str,
    golds: Sequence[str],
    choices: Mapping[str, str] | None = None,
) -> bool:
    """True when ``answer`` may be shown to the judge for a row of ``answer_type`` (module docstring)."""
    if answer_type == "choice":
        return _choice_shape(answer, golds, choices)
    if answer_type in ("label", "boolean"):
        if not any(canonical_label(gold, choices) for gold in golds):
            return True
        return canonical_label(answer, choices) is not None
    if answer_type == "numeric":
        if not any(parse_number(gold) for gold in golds):
            return True
        stated = stated_span(answer)
        return _numeric_shape(answer) or (stated is not None and _numeric_shape(stated))
    return True


def _choice_shape(answer: str, golds: Sequence[str], choices: Mapping[str, str] | None) -> bool:
    gold_sets = [letters for gold in golds if (letters := choice_letters(gold))]
    if not gold_sets:
        return True
    letters = choice_letters(answer, choices)
    if not letters:
        return False
    if choices and not letters <= {str(key).upper() for key in choices}:
        return False
    return len(letters) == 1 or len(letters) in {len(gold) for gold in gold_sets}


def reads_as_quantity(text: str) -> bool:
    """True when ``text`` is one quantity in the numeric shape (a numeric gold, not a name with a digit)."""
    return _numeric_shape(text)


def _numeric_shape(answer: str) -> bool:
    folded = fold(answer)
    head, colon, tail = folded.rpartition(":")
    if colon and tail.strip() and not any(ch.isdigit() for ch in head):
        folded = tail  # a lead-in without digits ("Numerical answer (from program execution): -94")
    if parse_number(folded) is None:
        return False
    unknown_before, unknown_after = 0, 0
    seen_digit = False
    for token in re.findall(r"\d+|[^\W\d_]+", folded.replace("\\text", " ")):
        if token.isdigit():
            seen_digit = True
            continue
        if token in REFERENCE_WORDS:
            return False
        if token in NUMERIC_WORDS or token in VOCABULARY or _known_cjk(token):
            continue
        if seen_digit:
            unknown_after += 1
        else:
            unknown_before += 1
    return unknown_before == 0 and unknown_after <= MAX_UNIT_WORDS


def _known_cjk(token: str) -> bool:
    """A CJK run made only of listed words ("约为", "万元")."""
    return splits_into(token, _CJK_KNOWN)


_CJK_KNOWN = tuple(
    sorted((w for w in (*NUMERIC_WORDS, *VOCABULARY) if "\u4e00" <= w[0] <= "\u9fff"), key=len, reverse=True)
)
