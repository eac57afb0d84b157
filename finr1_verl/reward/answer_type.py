"""The answer type of a reference answer, read with the reward's own parsers.

One classifier for the whole project: the data side types every free-form gold with it, so a row
is ``numeric`` exactly when :func:`~finr1_verl.reward.numbers.parse_number` reads its gold as one
number ("17.7 percent", "1.2 bn", "(1,234)", "−5.3", "12 bps", "¥300", "USD 5 million", "3/4"),
and the reward compares such a row's answers as numbers.  Order of the checks:

1. ``boolean`` - a yes/no word in English or Chinese (:func:`~finr1_verl.reward.labels.canonical_label`);
2. ``choice`` - upper-case option letters only ("B", "ABD", "A, C"), each one of ``choices`` when
   they are given; never when ``choices`` is an empty mapping (the question has no options: "TCL"
   is then a company, not three options);
3. ``label`` - a known class word ("positive", "Bearish", "积极");
4. ``numeric`` - exactly one number as the reward's number parser reads it;
5. ``text`` - anything else (also a gold over :data:`MAX_GOLD_CHARS`, which rules never compare).
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from finr1_verl.reward.labels import canonical_label
from finr1_verl.reward.numbers import is_plain_number, parse_number

# The longest answer the rules compare (finr1_verl.reward.match reads it as MAX_ANSWER_CHARS).
MAX_GOLD_CHARS = 4_096
_LETTERS = re.compile(r"[A-J]+")
_LETTER_SEPARATORS = re.compile(r"[\s,，、()（）]")


def option_letters(gold: str, choices: Mapping[str, str] | None = None) -> str | None:
    """The gold's option letters as one string ("A, C" -> "AC"), or None when the gold is not
    upper-case letters only (or names a letter that is not among ``choices``)."""
    compact = _LETTER_SEPARATORS.sub("", gold)
    if not _LETTERS.fullmatch(compact) or len(set(compact)) != len(compact):
        return None
    if choices and not set(compact) <= {str(key).upper() for key in choices}:
        return None
    return compact


def classify_answer(gold: str, choices: Mapping[str, str] | None = None) -> str:
    """numeric | choice | label | boolean | text for a reference answer (see the module docstring).

    ``choices``: the question's options; ``{}`` when it has none, None when that is not known.
    """
    gold = str(gold).strip()
    if not gold or len(gold) > MAX_GOLD_CHARS:
        return "text"
    if is_plain_number(gold):  # the common gold; no label, letter or yes/no word is written so
        return "numeric"
    label = canonical_label(gold)
    if label in ("yes", "no"):
        return "boolean"
    if (choices is None or choices) and option_letters(gold, choices) is not None:
        return "choice"
    if label is not None:
        return "label"
    if parse_number(gold) is not None:
        return "numeric"
    return "text"
