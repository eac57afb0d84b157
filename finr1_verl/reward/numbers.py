"""Reading one financial number from an answer string, with the precision it was written with.

:func:`parse_number` turns "$(1,234.5) million", "14%", "1.5 bn", "25 bps", "3.2亿元", "\\frac{3}{4}",
"1.2e-3" or "−0.3076" into a :class:`Number`: the value as a plain quantity (percent → fraction,
scale words applied), one unit of the last written digit (``ulp``, in the same units), and the
decorations that matter for comparison (percent, scale, currency).  It returns None when the text
is not exactly one number: several numbers (a hedge or a formula), a negation ("not 5"), a
comparison ("> 5") or anything over :data:`MAX_NUMBER_CHARS` characters.

Decorations understood: thousands separators, ``(1,234)`` as negative, unicode minus, currency
signs and words ($ € ¥ £ 元 美元 人民币 USD RMB …), ``%``/percent/``\\%``/percentage points/百分之,
basis points (bp, bps, 基点), permille (‰, 千分之), scale words (thousand/million/billion/trillion, k/m/mn/bn, 千/万/
百万/千万/亿/万亿), scientific notation (``1.2e5``, ``1.2 \\times 10^{5}``), simple fractions (``a/b``,
``\\frac{a}{b}``), minus words (negative/minus/负) and words of direction (decrease/decline/
下降/减少 make an unsigned number negative).  Other words ("shares", "years") are ignored.

Also read: LaTeX math delimiters (``\\(14.5\\%\\)``, ``\\[…\\]``, ``$…$``) are dropped; "year over
year" (``YoY``, "quarter over quarter") names a comparison, not a bound; a hyphen between letters is a
hyphen, not a minus ("price-to-sales ratio is 1.6" is 1.6); mixed numbers (``12\\frac{1}{2}``, ``12 1/2``
are 12.5); thousands separated by spaces (``1 234.5``); ``zero``/``nil``/``零`` as 0; one bold span
(``**$27.0 million**``) in a sentence is the number the sentence states (:func:`copula_value` reads the
number after a sentence's one copula, for the rules); and the same value written twice in two notations
(``25% (0.25)``, ``0.7701 or approximately 77.01%``, ``14% = 0.14``) is one value, read at its finer
precision.
"""

from __future__ import annotations

import functools
import math
import re
from dataclasses import dataclass, replace

from finr1_verl.reward.normalise import fold

MAX_NUMBER_CHARS = 256

_SCALES = {
    "thousand": 1e3, "thousands": 1e3, "k": 1e3, "千": 1e3,
    "million": 1e6, "millions": 1e6, "m": 1e6, "mn": 1e6, "mm": 1e6, "mil": 1e6, "百万": 1e6,
    "billion": 1e9, "billions": 1e9, "bn": 1e9, "b": 1e9, "十亿": 1e9,
    "trillion": 1e12, "trillions": 1e12, "tn": 1e12, "万亿": 1e12,
    "万": 1e4, "十万": 1e5, "千万": 1e7, "亿": 1e8,
}  # fmt: skip
_CURRENCIES = {
    "$": "USD", "usd": "USD", "us": "USD", "dollar": "USD", "dollars": "USD", "美元": "USD", "美金": "USD",
    "€": "EUR", "eur": "EUR", "euro": "EUR", "euros": "EUR", "欧元": "EUR",
    "£": "GBP", "gbp": "GBP", "pound": "GBP", "pounds": "GBP", "英镑": "GBP",
    "¥": "CNY", "元": "CNY", "人民币": "CNY", "rmb": "CNY", "cny": "CNY", "yuan": "CNY", "块": "CNY",
    "港元": "HKD", "港币": "HKD", "hkd": "HKD", "日元": "JPY", "jpy": "JPY", "yen": "JPY",
}  # fmt: skip
_PERCENT_WORDS = {"%", "percent", "pct", "percentage", "百分之", "个百分点", "百分点", "pp"}
_BASIS_POINT_WORDS = {"bp", "bps", "basis", "基点"}
_PERMILLE_WORDS = {"‰", "permille", "千分之"}
_DECREASE_WORDS = {
    "decrease", "decreased", "decline", "declined", "drop", "dropped", "fell", "fall", "down", "lower",
    "reduction", "下降", "减少", "下跌", "降低",
}  # fmt: skip
_MINUS_WORDS = {"negative", "minus", "负"}
_NEGATIONS = {"not", "no", "never", "neither", "nor", "isn't", "不", "非", "没有", "不是"}
# Bounds, not values: "more than 5" or "5%以上" is not the number 5.
_COMPARISONS = {
    "more", "less", "least", "most", "over", "above", "below", "under", "exceed", "exceeds",
    "exceeding", "greater", "fewer", "beyond", "within", "超过", "至少", "最多", "以上", "以下",
    "大于", "小于", "高于", "低于", "多于", "少于", "逾", "不到",
}  # fmt: skip
# "rounded down"/"round up" describe the rounding, not a direction of change.
_ROUNDING = {"round", "rounded", "rounding"}
_REFUSED_SYMBOLS = set("<>≤≥±^[]|&=≠/\\@")
# Every word the parser reads as a decoration of the number (its unit, scale, currency, sign, direction).
VOCABULARY = frozenset(
    {*_SCALES, *_CURRENCIES, *_PERCENT_WORDS, *_BASIS_POINT_WORDS, *_PERMILLE_WORDS, *_DECREASE_WORDS,
     *_MINUS_WORDS, *_ROUNDING, "per", "cent", "points", "point"}
)  # fmt: skip
# Longest first, so "万亿元" splits as 万亿 + 元.
_CJK_WORDS = sorted(
    [w for w in (*_SCALES, *_CURRENCIES, *_PERCENT_WORDS, *_BASIS_POINT_WORDS, *_PERMILLE_WORDS, *_DECREASE_WORDS, *_MINUS_WORDS,
                 *_NEGATIONS, *_COMPARISONS)
     if w and "\u4e00" <= w[0] <= "\u9fff"],
    key=len,
    reverse=True,
)  # fmt: skip

_LATEX_WRAPPER = re.compile(r"\\(?:text|textbf|textrm|mathrm|mathbf|operatorname|rm|bf)\s*\{([^{}]*)\}")
_LATEX_FRAC = re.compile(r"\\[dt]?frac\s*\{([^{}]*)\}\s*\{([^{}]*)\}")
_LATEX_DROP = re.compile(r"\\(?:left|right|displaystyle|approx|sim|,|;|!|:| |\(|\)|\[|\])")
# "year over year" names the comparison a change is measured over, not a bound ("over 5").
_PERIOD_OVER_PERIOD = re.compile(r"\b(year|quarter|month|week)[\s-]+over[\s-]+\1\b|\b(?:yoy|qoq|mom)\b")
_CURRENCY_DOLLAR = re.compile(r"\$(?=\s*[-+(]?\s*[\d.])")
_POWER_OF_TEN = re.compile(r"\s*(?:\*|x|×|\\times|\\cdot)\s*10\s*\^\s*\{?\s*([-+]?\d{1,3})\s*\}?")
_NUMBER = re.compile(
    r"(?P<int>\d{1,3}(?:,\d{3})+|\d+)?(?:\.(?P<frac>\d+))?(?:e(?P<exp>[-+]?\d{1,3})(?![\d]))?"
    r"(?:\s*/\s*(?P<den>\d+(?:\.\d+)?))?"
)
_BRACKETED_FRACTION = re.compile(r"\(([\d.,\s]+)\)\s*/\s*\(([\d.,\s]+)\)")
# A hyphenated compound is one word, read as no decoration ("year-over-year" is not "over").
_WORD_HYPHEN = re.compile(r"[a-z]+(?:-[a-z]+)+")
_MIXED_LATEX = re.compile(r"(?<![\d.])(\d+)\s*\\[dt]?frac\s*\{\s*(\d+)\s*\}\s*\{\s*(\d+)\s*\}")
_MIXED_PLAIN = re.compile(r"(?<![\d.,/])(\d+)\s+(\d+)\s*/\s*(\d+)(?![\d.])")
_SPACED_THOUSANDS = re.compile(r"(?<![\d.,])\d{1,3}(?:[ \u00a0\u202f]\d{3})+(?:\.\d+)?(?![\d/])")
_ZERO_WORD = re.compile(r"\b(?:zero|nil)\b|(?<![\u4e00-\u9fff])零(?![\u4e00-\u9fff])")
_YEAR = re.compile(r"(?<![\d.,$])(?:19|20)\d\d(?![\d%]|[.,]\d)")
_MONTH = (
    r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sept?(?:ember)?"
    r"|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\.?"
)
_DAY = r"\d{1,2}(?:st|nd|rd|th)?"
_YYYY = r"(?:19|20)\d\d"
# Dates and periods whose digits are not the quantity a sentence states: "December 31, 2019",
# "31 Dec. 2019", "2019-12-31", "12/31/2019", "2019年12月31日", "Q3", "H1".
_DATE = re.compile(
    rf"(?<![\w.$])(?:{_MONTH}\s+{_DAY},?\s+{_YYYY}|{_DAY}\s+{_MONTH},?\s+{_YYYY}|{_YYYY}-\d{{1,2}}-\d{{1,2}}"
    rf"|\d{{1,2}}/\d{{1,2}}/{_YYYY}|[qh][1-4])(?![\w%]|[.,]\d)|{_YYYY}年\d{{1,2}}月(?:\d{{1,2}}日)?",
    re.IGNORECASE,
)
_MAX_SPAN_CHARS = 80
_BOLD = re.compile(rf"\*\*([^*]{{1,{_MAX_SPAN_CHARS}}})\*\*")
# A parenthesis without digits that gives the scale of the value before it: "(in thousands)", "(€m)".
_SCALE_NOTE = re.compile(r"\s*\(([^()\d]{1,30})\)")
# What may stand between two notations of one value: "25% (0.25)", "0.7701 or approximately 77.01%".
_NOTATION_SPLIT = re.compile(r"\s*(?:\bor\b|\bi\.?e\.?|=|≈|\(|\)|,\s|;|/|，|即|或)\s*")
# Two bare numerals around a slash are a division ("0/0"), never two notations of one value.
_DIVISION = re.compile(r"\s*-?[\d.,]+\s*/\s*-?[\d.,]+\s*")
_TOKEN = re.compile(r"[a-z']+|[\u4e00-\u9fff]+|\S")
# The common case - "0.14464", "-4.4%", "60.94" - skips the general parser.
_PLAIN = re.compile(r"(-?)(\d+)(?:\.(\d+))?(%?)")


@dataclass(frozen=True)
class Number:
    """A number as written: ``value`` is the plain quantity, ``ulp`` one unit of its last digit."""

    value: float
    ulp: float
    percent: bool = False
    scale: float = 1.0
    currency: str | None = None
    integer: bool = False  # written without a decimal point or exponent: trailing zeros may be rounding


def _clean(text: str) -> str:
    text = fold(text)
    text = text.replace("\\$", " usd ").replace("\\%", "%").replace("{,}", ",")
    text = _LATEX_WRAPPER.sub(r" \1 ", text)
    text = _LATEX_FRAC.sub(r"(\1)/(\2)", text)
    text = _CURRENCY_DOLLAR.sub(" usd ", text)
    text = _LATEX_DROP.sub(" ", text).replace("$", " ").replace("{", " ").replace("}", " ").replace("~", " ")
    return _PERIOD_OVER_PERIOD.sub(" ", text).strip()


def _words(text: str) -> list[str]:
    """Tokens of a prefix/suffix; CJK runs are split into the known words they are made of."""
    words: list[str] = []
    for token in _TOKEN.findall(text):
        if not ("\u4e00" <= token[0] <= "\u9fff"):
            words.append(token)
            continue
        while token:
            known = next((w for w in _CJK_WORDS if token.startswith(w)), token[0])
            words.append(known)
            token = token[len(known) :]
    return words


def _number_match(text: str) -> re.Match[str] | None:
    """The only number in ``text``, or None when there is none or more than one."""
    found = None
    for match in _NUMBER.finditer(text):
        if not (match.group("int") or match.group("frac")):
            continue
        if found is not None:
            return None
        found = match
    return found


def _digits_value(match: re.Match[str]) -> tuple[float, float]:
    """Value and ulp of the bare numeral (exponent applied, fraction divided)."""
    integer = (match.group("int") or "0").replace(",", "")
    fraction = match.group("frac") or ""
    exponent = int(match.group("exp") or 0)
    value = float(f"{integer}.{fraction or 0}") * 10.0**exponent
    ulp = 10.0 ** (exponent - len(fraction))
    if match.group("den"):
        denominator = float(match.group("den"))
        if denominator == 0:
            raise ValueError("zero denominator")
        value, ulp = value / denominator, 0.0
    return value, ulp


def parse_number(text: str) -> Number | None:
    """The single number written in ``text`` with its precision and decorations; None if there is not one.

    Results are cached: a GRPO group scores many responses against the same ground truth.
    """
    if not isinstance(text, str) or len(text) > MAX_NUMBER_CHARS:
        return None
    return _parse(text.strip())


def is_plain_number(text: str) -> bool:
    """``text`` is a bare decimal number, optionally signed and with a percent sign ("-12.5", "14%")."""
    return _PLAIN.fullmatch(text) is not None


def clear_number_cache() -> None:
    """Forget cached parses (to measure the cold-cache cost)."""
    _parse.cache_clear()


def _parse_plain(match: re.Match[str]) -> Number:
    sign, integer, fraction, percent = match.groups()
    fraction = fraction or ""
    factor = 0.01 if percent else 1.0
    value = float(f"{integer}.{fraction or 0}") * factor
    return Number(
        value=-value if sign else value,
        ulp=10.0 ** -len(fraction) * factor,
        percent=bool(percent),
        integer=not fraction,
    )


def _compound(match: re.Match[str]) -> str:
    return " " + match.group().replace("-", "") + " "


def _mixed(match: re.Match[str]) -> str:
    whole, numerator, denominator = (int(group) for group in match.groups())
    return f"({whole * denominator + numerator})/({denominator})" if denominator else match.group()


@functools.lru_cache(maxsize=65_536)
def _parse(text: str) -> Number | None:
    plain = _PLAIN.fullmatch(text)
    if plain:
        return _parse_plain(plain)
    number = _parse_one(text)
    if number is not None:
        return number
    bold = emphasised(text)
    if bold is not None:
        return _parse_one(bold)
    return _same_value(text)


def stated_span(text: str) -> str | None:
    """The one value a sentence or table row marks as its answer, or None.

    That is its one bold span (``**…**``), or, where the output lost one of the two markers, the side of
    a lone ``**`` it closes or opens ("…execution): 0.12711** (document units…)", "in 2018: **2"); a
    parenthesis without digits right after the span is its scale ("**14,766** (RMB' Million)").
    """
    if "**" not in text:
        return None
    if text.count("**") == 1:
        before, _, after = text.partition("**")
        closing = not after[:1].strip() or after[:1] in ".,;:)"
        span, rest = (before, after) if closing else (after, "")
        span = span.strip()
        if not span or len(span) > _MAX_SPAN_CHARS:
            return None
    else:
        bold = list(_BOLD.finditer(text))
        if len(bold) != 1:
            return None
        span, rest = bold[0].group(1), text[bold[0].end() :]
    scale = _SCALE_NOTE.match(rest)
    if scale:
        scaled = _parse_one(f"{span} {scale.group(1)}")
        if scaled is not None and scaled != _parse_one(span):  # the note adds a scale or currency
            return f"{span} {scale.group(1)}"
    return span


def without_dates(text: str) -> str:
    """``text`` with its dates, quarters and plain years blanked out (see ``_DATE``, ``_YEAR``)."""
    return _YEAR.sub(" ", _DATE.sub(" ", text))


_COPULA = re.compile(
    r"\b(?:is|was|were|are|totaled|totalled|totals|amounted to|amounts to|came to|stood at|equals|equaled|"
    r"equalled|reached)\b|[:=]",
    re.IGNORECASE,
)
# A subject that itself holds an amount, a percent, a decimal or a marked value states more than a name.
_HEAD_QUANTITY = re.compile(r"[$€£¥%‰]|\d[.,]\d")


def copula_value(text: str) -> str | None:
    """The quantity a sentence states after its one copula ("The FY2018 capital expenditure for 3M was
    $1,577 million."): the words after "is/was/were/totaled/…" or a colon, when they are one number and
    the subject before it names no amount of its own; None otherwise."""
    if "**" in text:
        return None
    copulas = list(_COPULA.finditer(text))
    if len(copulas) != 1 or _HEAD_QUANTITY.search(text[: copulas[0].start()]):
        return None
    tail = text[copulas[0].end() :].strip().rstrip(".。").strip()
    if not tail or len(tail) > _MAX_SPAN_CHARS or _parse_one(tail) is None:
        return None
    return tail


def emphasised(text: str) -> str | None:
    """The one bold span of a sentence whose other digits are only dates ("In 2019 it was **4,411**")."""
    bold = _BOLD.findall(text)
    if len(bold) != 1:
        return None
    outside = without_dates(_BOLD.sub(" ", text))
    return None if any(ch.isdigit() for ch in outside) else bold[0]


def _same_value(text: str) -> Number | None:
    """One value written in two or three notations ("25% (0.25)"): the finer one; else None."""
    if _DIVISION.fullmatch(text):
        return None
    parts = [part for part in _NOTATION_SPLIT.split(text) if part.strip()]
    return one_value(parts) if 2 <= len(parts) <= 3 else None


def one_value(texts) -> Number | None:
    """The finest of several numbers that are one value in different notations; None otherwise."""
    numbers = [_parse_one(text) if len(text) <= MAX_NUMBER_CHARS else None for text in texts]
    if any(number is None for number in numbers):
        return None
    finest = min(numbers, key=lambda number: number.ulp)
    if all(_same(number, finest) for number in numbers):
        return finest
    return None


def _same(a: Number, b: Number) -> bool:
    """``a`` written at its own precision is ``b`` (half a unit of ``a``'s last digit)."""
    if a.currency and b.currency and a.currency != b.currency:
        return False
    return abs(a.value - b.value) <= max(a.ulp, b.ulp) / 2 * (1 + 1e-9) + 1e-12


def _parse_one(text: str) -> Number | None:
    cleaned = _WORD_HYPHEN.sub(_compound, _clean(_MIXED_LATEX.sub(_mixed, text))).rsplit("=", 1)[-1]
    cleaned = _MIXED_PLAIN.sub(_mixed, cleaned)
    cleaned = _SPACED_THOUSANDS.sub(lambda m: re.sub(r"[ \u00a0\u202f]", ",", m.group()), cleaned)
    cleaned = _ZERO_WORD.sub("0", cleaned)
    power = 0
    power_match = _POWER_OF_TEN.search(cleaned)
    if power_match:
        power = int(power_match.group(1))
        cleaned = cleaned[: power_match.start()] + " " + cleaned[power_match.end() :]
    cleaned = _BRACKETED_FRACTION.sub(r"\1/\2", cleaned)
    match = _number_match(cleaned)
    if match is None:
        return None
    try:
        value, ulp = _digits_value(match)
        value, ulp = value * 10.0**power, ulp * 10.0**power
    except (ValueError, OverflowError):
        return None
    integer = not (match.group("frac") or match.group("exp") or match.group("den") or power)
    number = _decorate(value, ulp, _words(cleaned[: match.start()]), _words(cleaned[match.end() :]))
    return replace(number, integer=True) if number is not None and integer else number


def _decorate(value: float, ulp: float, before: list[str], after: list[str]) -> Number | None:
    """Apply the words around the numeral: sign, percent, basis points, scale, currency."""
    words = before + after
    if any(w in _NEGATIONS or w in _REFUSED_SYMBOLS or w in _COMPARISONS for w in words):
        return None
    percent = any(w in _PERCENT_WORDS for w in words) or ("per" in words and "cent" in words)
    basis_points = any(w in _BASIS_POINT_WORDS for w in words)
    permille = any(w in _PERMILLE_WORDS for w in words)
    currencies = {_CURRENCIES[w] for w in words if w in _CURRENCIES}
    if len(currencies) > 1 or percent + basis_points + permille > 1:
        return None
    negative = (
        "-" in before
        or ("(" in before and ")" in after)
        or any(w in _MINUS_WORDS for w in before)
        or any(
            w in _DECREASE_WORDS and (i == 0 or words[i - 1] not in _ROUNDING) for i, w in enumerate(words)
        )
    )
    scale = math.prod((_SCALES[w] for w in after if w in _SCALES), start=1.0)
    factor = (
        scale * (0.01 if percent else 1.0) * (1e-4 if basis_points else 1.0) * (1e-3 if permille else 1.0)
    )
    value, ulp = value * factor, ulp * factor
    if not math.isfinite(value) or not math.isfinite(ulp):
        return None
    return Number(
        value=-value if negative else value,
        ulp=ulp,
        percent=percent or basis_points,  # permille: no percent-number reading
        scale=scale,
        currency=currencies.pop() if currencies else None,
    )
