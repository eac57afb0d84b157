"""Normalising labels, yes/no answers and option letters to comparable canonical forms.

* :func:`canonical_label` maps a sentiment / boolean / compliance word in English or Chinese to one
  class name ("negative", "positive", "neutral", "yes", "no", "compliant", "violation").  A dataset's
  label ids ("0", "1", "2") mean different classes in different datasets, so ids are resolved only
  through the ``id_labels`` mapping that the data row carries (``extra_info.choices``; each
  dataset's map lives with its parser in ``finr1_verl.data.sources``).
* :func:`choice_letters` reads a set of option letters from "ABD", "A, B, D", "(A)(D)", "选D", "D.",
  "Option B", or - when the options are known - from an option's text.
* :func:`normalize_text` is the normalisation for exact text comparison.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping

_CLASS_WORDS: dict[str, tuple[str, ...]] = {
    "negative": ("negative", "bearish", "看跌", "消极", "负面", "利空", "悲观", "neg"),
    "positive": ("positive", "bullish", "看涨", "积极", "正面", "利好", "乐观", "pos"),
    "neutral": ("neutral", "中性", "中立", "neu"),
    "yes": ("yes", "true", "correct", "是", "对", "正确", "是的", "y"),
    "no": ("no", "false", "incorrect", "否", "错", "错误", "不是", "不对", "n"),
    "compliant": ("compliant", "合规", "符合规定"),
    "violation": ("violation", "non-compliant", "noncompliant", "违规", "不合规", "违反规定"),
}
_CANONICAL: dict[str, str] = {word: name for name, words in _CLASS_WORDS.items() for word in words}
# Words that may surround a label without changing it ("Sentiment: Bearish", "答案：是").
_FILLER = re.compile(
    r"^(?:the\s+)?(?:final\s+)?(?:answer|sentiment|label|classification|情绪倾向|情感倾向|倾向|情绪|情感|答案|结论|判断)"
    r"\s*(?:is|:|为|是|：)?\s*"
)
_TRIM = " \t\n\r.。!！,，;；:：\"'“”‘’`*()（）[]【】<>《》"
_SENTIMENT_SUFFIX = re.compile(r"\s*(?:sentiment|情绪|情感)$")

_LETTER_SEPARATORS = re.compile(r"[\s,，、;；&/+]+|\band\b|和|及|与")
_LETTER_PREFIX = re.compile(
    r"^(?:the\s+)?(?:correct\s+)?(?:answer|answers|option|options|choice|choices|答案|选项|正确答案|应选|选择|选)"
    r"\s*(?:is|are|:|为|是|：)?\s*",
    re.IGNORECASE,
)
_LETTER_GROUP = re.compile(r"^[(（\[]?([A-Ja-j])[)）\]]?[.．、:：]?$")
_LEADING_LETTER = re.compile(r"^[(（\[]?([A-J])(?:[)）\]]|[.．、:：])\s*\S")


def normalize_text(text: str) -> str:
    """NFKC, case-folded, inner whitespace collapsed, surrounding punctuation removed."""
    text = unicodedata.normalize("NFKC", text).casefold()
    return " ".join(text.split()).strip(_TRIM)


def canonical_label(text: str, id_labels: Mapping[str, str] | None = None) -> str | None:
    """The canonical class of a label answer, or None when it is not one known label."""
    value = normalize_text(text)
    value = _FILLER.sub("", value).strip(_TRIM)
    if id_labels:
        ids = {normalize_text(str(key)): str(name) for key, name in id_labels.items()}
        if value in ids:
            value = normalize_text(ids[value])
    value = _SENTIMENT_SUFFIX.sub("", value)
    if value in _CANONICAL:
        return _CANONICAL[value]
    return value if id_labels and value in {normalize_text(str(v)) for v in id_labels.values()} else None


def choice_letters(text: str, choices: Mapping[str, str] | None = None) -> frozenset[str] | None:
    """The set of option letters an answer names, or None when it does not name letters clearly.

    Order: a letter followed by its own option's text ("E. A+B+C"; followed by another option's text it
    names no clear option: None); exactly one option's text
    (when ``choices`` are known and the answer is not a lone option letter); letters alone ("ABD",
    "A, B and D", "(A)(D)"); a leading letter ("D. text").  Letters outside ``choices`` are
    returned as they are: naming a missing option is a wrong answer.
    """
    value = unicodedata.normalize("NFKC", text).strip().strip(_TRIM.replace("()", "").replace("（）", ""))
    value = _LETTER_PREFIX.sub("", value).strip()
    if not value:
        return None
    valid = {str(key).upper() for key in choices} if choices else None
    leading = _LEADING_LETTER.match(value)
    if leading and choices and leading.group(1) in valid:
        rest = value[leading.end() - 1 :]
        named = [str(key).upper() for key, option in choices.items() if _is_option_text(rest, option)]
        if named:  # "B. 厂房": the letter with its own text; "A. 厂房" names two options
            return frozenset(leading.group(1)) if leading.group(1) in named else None
    lone_letter = _LETTER_GROUP.match(value)
    if choices and not (lone_letter and lone_letter.group(1).upper() in valid):
        wanted = normalize_text(value)
        matched = [
            str(key).upper() for key, option in choices.items() if normalize_text(str(option)) == wanted
        ]
        if len(matched) == 1:
            return frozenset(matched)
    letters = _letters_only(value)
    if letters is not None:
        return letters
    if leading is None or (valid is not None and leading.group(1) not in valid):
        return None
    return frozenset(leading.group(1))


def _is_option_text(text: str, option: str | None) -> bool:
    return option is not None and normalize_text(text) == normalize_text(str(option))


def _letters_only(value: str) -> frozenset[str] | None:
    """Letters from text made only of option letters: "ABD", "A, B and D", "(A)(D)", "b"."""
    compact = re.sub(r"[()（）\[\]【】.．]", " ", value)
    parts = [part for part in _LETTER_SEPARATORS.split(compact) if part]
    if not parts:
        return None
    letters: set[str] = set()
    for part in parts:
        if _LETTER_GROUP.match(part) and len(parts) > 1:
            letters.add(part.strip("()（）[]").upper()[0])
        elif (re.fullmatch(r"[A-J]{1,10}", part) and len(set(part)) == len(part)) or (
            len(parts) == 1 and re.fullmatch(r"[a-j]", part)
        ):
            letters.update(part.upper())
        else:
            return None
    return frozenset(letters)
