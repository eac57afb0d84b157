"""The one text normalisation of the reward: what the hack guard checks is what the judge reads.

:func:`fold` applies, in order:

1. Unicode NFKC (full-width letters, digits and brackets become ASCII; ligatures and compatibility
   forms are split);
2. drops invisible characters: format characters (zero-width spaces and joiners, bidi controls,
   the byte-order mark, soft hyphens, tag characters), combining marks, unassigned, private-use
   and surrogate code points;
3. maps every decimal digit (Arabic-Indic ``٥``, Devanagari ``५``, …) to its ASCII digit and every
   hyphen-like minus (U+2010-U+2013, U+2212, U+FE63) to ``-``;
4. maps the common Cyrillic and Greek look-alikes of Latin letters (``о``, ``е``, ``і``, ``ο``, …) to
   ASCII;
5. case-folds.

The guard matches its patterns on folded text, and the judge prompt's candidate block is folded
(steps 1-4; its case is kept, which hides nothing from a reader) before it is placed between the
delimiters, so an instruction hidden by any of these tricks is seen, in the same letters, by both.  ASCII text only pays for the case fold; other characters are
mapped through a table filled on first sight (bounded in size), so the cost stays linear.
"""

from __future__ import annotations

import unicodedata

# Cyrillic and Greek letters drawn like Latin ones (after NFKC, either case).
_LOOK_ALIKES = {
    "а": "a", "в": "b", "е": "e", "ё": "e", "к": "k", "м": "m", "н": "h", "о": "o", "р": "p",
    "с": "c", "т": "t", "у": "y", "х": "x", "ѕ": "s", "і": "i", "ї": "i", "ј": "j", "ԁ": "d",
    "ԛ": "q", "ԝ": "w", "һ": "h", "ӏ": "l", "ɡ": "g", "ɑ": "a", "ı": "i",
    "α": "a", "ε": "e", "ι": "i", "κ": "k", "ν": "v", "ο": "o", "ρ": "p", "τ": "t", "υ": "u",
    "χ": "x", "γ": "y",
}  # fmt: skip
_LOOK_ALIKES.update({k.upper(): v.upper() for k, v in list(_LOOK_ALIKES.items()) if k.upper() != k})
_MINUSES = "\u2010\u2011\u2012\u2013\u2212\ufe63"
_DROPPED_CATEGORIES = {"Cf", "Mn", "Me", "Cn", "Co", "Cs"}
_TABLE_LIMIT = 65_536


class _FoldTable(dict):
    """``str.translate`` table for non-ASCII characters, computed per character on first sight."""

    def __missing__(self, code: int) -> str:
        char = chr(code)
        category = unicodedata.category(char)
        if category in _DROPPED_CATEGORIES:
            mapped = ""
        elif category == "Nd":
            mapped = str(unicodedata.digit(char))
        elif char in _MINUSES:
            mapped = "-"
        else:
            mapped = _LOOK_ALIKES.get(char, char)
        if len(self) < _TABLE_LIMIT:
            self[code] = mapped
        return mapped


_TABLE = _FoldTable()


def fold(text: str, *, keep_case: bool = False) -> str:
    """``text`` normalised as the module docstring describes (``keep_case``: without step 5)."""
    if text.isascii():
        return text if keep_case else text.lower()
    text = unicodedata.normalize("NFKC", text).translate(_TABLE)
    return text if keep_case else text.casefold()


def splits_into(run: str, words: tuple[str, ...]) -> bool:
    """True when a run of Chinese characters is made only of ``words`` (longest first, greedy)."""
    if not run or not ("\u4e00" <= run[0] <= "\u9fff"):
        return False
    while run:
        word = next((w for w in words if run.startswith(w)), None)
        if word is None:
            return False
        run = run[len(word) :]
    return True
