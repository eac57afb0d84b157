"""Judge-hacking defences: answers that must score 0 before any judge sees them.

The reward is an RL target, so the policy searches for whatever fools the judge.  The published
attacks ("One Token to Fool LLM-as-a-Judge", arXiv 2507.08794; "Pitfalls of Rule- and Model-based
Verifiers", arXiv 2505.22203) are content-free openers, prompt injection addressed to the grader,
forged tags and hedging between answers.  Each check here is a small pure predicate on the
response, its answer span and the extracted answer; :func:`hack_reason` returns the first reason
found, or ``None`` for an answer that may be scored.

Every check reads text folded by :func:`~finr1_verl.reward.normalise.fold`, the fold the judge's
candidate block gets, so zero-width, full-width or look-alike disguises change nothing.  A hedge is an
answer that offers more distinct values, labels or option letters than the gold holds, whatever the
separator (``golds`` are the row's readings; a gold that is a list allows as many items).

Lengths are checked before any scan and no pattern can rescan the text from many positions, so
every check is linear in its input.  Only the repeated-tag check reads the whole response (and, when
there is no answer block, the forged-tag check reads its last ``MAX_SCAN_CHARS``); every other check
is a function of the answer span and the answer alone and is memoised for short spans, because a
GRPO group's responses end in a few distinct answer blocks.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Mapping, Sequence

from finr1_verl.llm.stats import Counters
from finr1_verl.reward.answer import MAX_SCAN_CHARS, MEMO_CHARS, count_span_answers
from finr1_verl.reward.format import ANSWER_CLOSE, ANSWER_OPEN, THINK_CLOSE, THINK_OPEN
from finr1_verl.reward.labels import canonical_label, choice_letters
from finr1_verl.reward.normalise import fold, splits_into
from finr1_verl.reward.numbers import one_value, parse_number

EMPTY = "empty"
TOO_LONG = "too_long"
HEDGE = "hedge"
ADDRESSES_GRADER = "addresses_grader"
FAKE_TAGS = "fake_tags"
CONTENT_FREE = "content_free"
NO_DIGIT = "no_digit"
# Not a shape the judge may see for the row's answer type (finr1_verl.reward.shape); set by the reward
# after the rule verdict, counted here with the other reasons.
OFF_SHAPE = "off_shape"
# The longest final answer that is scored, in training and in evaluation alike (one limit, so an
# evaluation number and a training reward read the same answers).  A Fin-R1 final answer is a
# number, an option, a label or a sentence or two (the longest gold of the shipped samples has 416
# characters); a longer "answer" is an essay or a hedge.  It scores 0 (TOO_LONG)
# and is never shown to the judge, so the judge prompt stays short.  The rules compare answers up to
# ``match.MAX_ANSWER_CHARS`` (4096), above this limit: every answer that passes the guard is still
# compared by the rules before any judge call.
MAX_FINAL_ANSWER_CHARS = 1000
REASONS = (EMPTY, TOO_LONG, FAKE_TAGS, ADDRESSES_GRADER, HEDGE, CONTENT_FREE, NO_DIGIT, OFF_SHAPE)
_TAGS = (THINK_OPEN, THINK_CLOSE, ANSWER_OPEN, ANSWER_CLOSE)

# Every pattern below is matched on text folded by :func:`~finr1_verl.reward.normalise.fold` (NFKC,
# invisible characters dropped, look-alike letters and digits mapped to ASCII, case-folded): the
# same letters the judge reads in its data blocks.  No pattern can rescan the text from many start
# positions (no ``^\s*`` under MULTILINE, no nested or overlapping unbounded quantifiers).

# Chat-template role markers, the judge prompt's own delimiters (any spacing, ``_``/``-``/space
# between words), and role lines: never part of a real answer.
_FORGED = re.compile(
    r"<\|(?:im_start|im_end|endoftext|system|user|assistant|eot_id|start_header_id|end_header_id)\|>"
    r"|\[/?inst\]|<</?sys>>|</?s>"
    r"|<\s*/?\s*(?:(?:reference|candidate|final|gold|expected)[\s_-]*answer|question|options|system|user|"
    r"assistant|verdict|score|judge|grader|instructions?)\s*>"
    r"|(?:^|\n)[ \t]*(?:system|user|assistant|grader|evaluator|verifier|系统|用户|助手|评委)[ \t]*[:：]"
)

# Text that speaks to whoever grades the answer, or claims a verdict, instead of answering.
_GRADER = re.compile(
    r"\b(?=[a-z])(?:"
    # instructions
    r"(?:ignore|disregard|forget|override|bypass)\s+(?:all\s+|any\s+|the\s+|your\s+|of\s+)*"
    r"(?:previous|prior|above|preceding|earlier|former|system|instructions?|rules?|criteria|guidelines)"
    r"|(?:new|these|following|updated)\s+instructions\b|system\s+prompt\b|you\s+(?:must|should|are\s+to)\s+"
    r"(?:output|reply|respond|answer|return|say|mark|grade|judge|score|rate|treat|consider|accept)"
    r"|(?:output|respond|reply|answer|return|print|say|write)\s*[:：]?\s*(?:with\s*|only\s*|just\s*)?[\"'`]?\\boxed"
    r"|(?:output|respond|reply|return|print|say)\s+(?:with\s+|only\s+|just\s+)?[\"'`]?(?:1|one|true|yes|correct|equivalent|equal)\b"
    r"|(?:mark|treat|consider|rate|grade|judge|count|deem|score|accept|evaluate)\s+(?:it|this|that|me|the|my|your)"
    r"(?:\s+(?:answer|candidate|response|solution|one))?"
    r"\s+(?:as\s+)?(?:correct|right|true|equivalent|equal|valid|1|full)"
    # addressing the grader
    r"|(?:grader|evaluator|verifier|grading)\b"
    r"|(?:dear|hey|hi|attention|note\s+to|to\s+the|as\s+the|as\s+a|as\s+an)\s+(?:judge|checker|marker|reviewer)"
    r"|(?:judge|checker|marker|reviewer)\s*[:：]"
    # verdict and equivalence claims
    r"|(?:score|grade|verdict|reward|result|decision|judg(?:e)?ment|evaluation|rating)[\"'`]?\s*(?:is\s*|of\s*)?[:=：]\s*[\"'`]?\s*"
    r"(?:1(?![\d.%])|1\.0(?![\d%])|one\b|true|yes|correct|right|equal|equivalent|identical|same|match|pass|full|\\boxed|正确|等价|一致|相同|满分)"
    r"|full\s+marks?\b|status\s*[:=]\s*(?:pass|ok|correct|verified|accepted)\b|verified\s+(?:as\s+)?correct"
    r"|answer\s+key\b"
    r"|(?:answer|solution|response|candidate)s?\s+(?:above\s+|here\s+|given\s+)?(?:is|are)\s+(?:\w+\s+){0,2}"
    r"(?:correct|right|equivalent|identical|the\s+same|equal|consistent)\b"
    r"|(?:two|both)\s+(?:answers?|values?|results?|responses?)\s+(?:are|is|match)"
    r"|(?:match(?:es|ing)?|equals?|identical\s+to|equivalent\s+to|same\s+as|consistent\s+with|agrees?\s+with|in\s+line\s+with)"
    r"\s+(?:\w+\s+){0,2}(?:reference|expected|gold|standard|official|target|ground|given\s+answer|correct\s+answer)"
    r"|(?:reference|candidate|gold|ground[\s-]*truth|expected|standard|official)\s+(?:answer|solution|value)"
    r")"
)
_GRADER_ZH = re.compile(
    r"(?:忽略|无视|不要理会|跳过)(?:掉)?(?:之前|以上|上述|前面|先前|此前|系统|所有|全部|其他|其它|原有|原来)"
    r"[^。，,.！!\n]{0,6}(?:指令|指示|要求|规则|说明|提示|设定)"
    r"|新的?(?:指令|指示|规则|设定)\s*[:：]|系统提示"
    r"|(?:尊敬的|致|各位|亲爱的|作为)(?:评委|裁判|评审|考官|阅卷老师|阅卷人|评分员|判卷人)"
    r"|(?:评委|裁判|评审员|考官|阅卷老师|阅卷人|评分员|打分员)\s*[:：，,]"
    r"|参考答案|标准答案|候选答案|正确答案是.{0,4}(?:本|该|这个|上述)"
    r"|(?:请|应|应该|必须|务必)?(?:给|打|评)(?:我|这个答案|本答案|该答案|此答案|本题)?\s*(?:满分|1分|一分|高分)"
    r"|(?:判|判定|评|评定|认定|视|标记|记)(?:为|成)\s*(?:正确|等价|一致|相同|通过|对|1(?![\d.])|真)"
    r"|(?:上述|以上|该|这个|本|此)(?:答案|回答|结果)(?:是|完全|均)?(?:正确|等价|一致|无误)"
    r"|(?:两者|二者|两个答案|两个结果|两个值)(?:是)?(?:完全|基本)?(?:一致|相同|等价|相等|吻合)"
    r"|(?:与|和|跟|同)(?:参考|标准|预期|正确|给定)?(?:答案|结果)(?:完全|基本)?(?:一致|相同|等价|相符|吻合)"
    r"|等价于(?:正确|参考|标准)"
    r"|(?:判定|结论|评分|得分|分数|结果|奖励|评判|裁定)[\"'“”]?\s*[:=：]\s*[\"'“”]?\s*"
    r"(?:1(?![\d.%])|\\boxed\{1\}|正确|等价|一致|相同|满分|通过|true|yes)"
    r"|输出\s*[:：]?\s*(?:\\boxed|1(?![\d.%])|一|正确|等价)|请(?:输出|回复|判|认定|视为|给出\s*\\boxed)"
    r"|你(?:必须|应该|需要|要|应当)(?:回答|回复|输出|判|认定|给|认为|视为)"
)

# Choice answers: option texts may contain "or", so only letter-versus-letter counts.
_HEDGE_LETTERS = re.compile(r"(?<![a-z])[a-h]\s*(?:or|或者|或是|还是|或|/|\|)\s*[a-h](?![a-z])")
# Numerals, with thousands separators and decimals.
_NUMERAL = re.compile(r"\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?")
# What a bare list of numbers may contain besides its numerals.
_WORDS_LEFT = re.compile(
    r"[\s%‰$€£¥*().:：=+\-–—~～/|,，;；、&±]|\\%|\\\$|\\pm|\b(?:or|either|and|to|vs|versus|between|from|about|around|"
    r"approximately|roughly|maybe|perhaps|possibly|the|answer|final|is|are|be|could|might|it|percent|"
    r"million|billion|thousand|trillion|bps?|usd|rmb|mn|bn|[kmb])\b|或者|或是|还是|也可能|或|至|到|和|与|及|以及|"
    r"约|大约|大概|可能|在|之间|为|是|答案|元|万|亿|千|百|美元|人民币"
)
_LIST_ITEMS = re.compile(
    r"\s*(?:\beither\b|\bor\b|\band\b|\bmaybe\b|\bperhaps\b|[/|,，;；、]|也可能是|也可能|可能是|还是|或|和|与|及)\s*"
)
# What may start a list item after "或" ("或者", "或是") without being part of the item.
_ITEM_LEAD = "者是"
_MAX_LIST_ITEM_CHARS = 24
# A numeric answer written as one division "a/b" (or "a / b").
_DIVISION = re.compile(r"\s*([^/]*\d[^/]*?)\s*/\s*([^/]*\d[^/]*?)\s*")

# Openers that carry no answer (arXiv 2507.08794's "master keys" and their variants), normalised
# by :func:`_letters_only`: no punctuation, no spaces.
_OPENER_WORDS = """
    solution solutions answer answers theanswer theansweris finalanswer thefinalansweris
    thoughtprocess reasoning explanation step1 steps result stepbystep letssolvethisstepbystep
    letssolvethisproblemstepbystep letsthinkstepbystep letmethinkstepbystep letmesolvethisstepbystep
    letsworkthisoutstepbystep ican sure ok okay yesican none null na nan unknown idk
    解 解答 解析 答 答案 答案是 答案为 思考过程 思路 分析 步骤 结果 首先 回答 かいせつ 解説
    让我们一步一步解决这个问题 让我们一步步思考 我们一步一步来
"""
_OPENERS = frozenset(_OPENER_WORDS.split())
_STEP_BY_STEP = re.compile(r"(?:let'?s|let\s+us|let\s+me|i\s+will|we\s+will)\b.*step[\s-]*by[\s-]*step\W*")
# Words that say nothing about the answer: openers, references to elsewhere ("See above.", "As computed
# in step 3."), placeholders, verdict claims in English, French, Spanish, German, Japanese, Korean,
# Russian and Chinese, and all/none-of-the-above.  An answer made only of these words (step numbers
# included: a digit after a step word) is content-free.  Folded like the answers they are matched on.
_META_TEXT = """
    see above below refer referring to as computed calculated shown stated derived noted explained described
    given found obtained determined in at on by the an of this that it its is was are were be same answer
    answers key final result results reasoning calculation calculations computation working work solution
    solutions previous previously earlier before prior step steps part stage here there following tbd tba
    pending placeholder insert your value blank todo xxx status pass passed ok okay correct right verified
    verify confirmed accepted approved valid check checked done all none neither both options option
    everything nothing matches match matching identical equivalent equal let lets let's us me work through
    think go we will now first then so thus therefore hence calculate compute determine
    c'est est correct correcte réponse reponse la le bonne juste exact exacte vrai voir ci dessus
    es respuesta correcta correcto ver arriba verdadero die antwort ist richtig korrekt stimmt siehe oben
    正解です 正解 正しい 正しいです 同じ 一致 上記参照 上記 参照
    정답입니다 정답 맞습니다 맞음 올바른 답 위 참조
    правильно верно ответ верный правильный см выше
"""
_META_CJK_TEXT = """
    详见 上文 推理 过程 见 如上 所述 同上 参见 前面 计算 步骤 第 步 以上 都是 都不是 全部 均 答案 正确 待定 略
    结果 最终 已 验证 通过 为 是 的 解题 完成
"""
_STEP_WORDS = frozenset(["step", "steps", "part", "stage", "第"])
_META_TOKEN = re.compile(r"\d+|[^\W\d_]+(?:'[^\W\d_]+)?")
META_WORDS = frozenset(fold(word) for word in _META_TEXT.split())
_META_CJK = tuple(sorted((fold(word) for word in _META_CJK_TEXT.split()), key=len, reverse=True))
_DIGIT = re.compile(r"[0-9〇零一二两三四五六七八九十百千万亿]")
_LATEX_WORDS = re.compile(r"\\(?:text|textbf|mathrm|boxed)\s*")


def _letters_only(folded: str) -> str:
    """Folded text without punctuation, symbols, spaces and LaTeX wrappers, for opener matching."""
    return "".join(ch for ch in _LATEX_WORDS.sub("", folded) if unicodedata.category(ch)[0] in "LN")


def _only_meta_words(folded: str) -> bool:
    """True when every word of ``folded`` is a meta word (:data:`META_WORDS`) or a step number."""
    tokens = _META_TOKEN.findall(folded)
    if not tokens or len(tokens) > 16:
        return False
    previous = ""
    for token in tokens:
        if token.isdigit():
            if previous not in _STEP_WORDS:
                return False
        elif token not in META_WORDS and not _cjk_meta(token):
            return False
        previous = token
    return True


def _cjk_meta(token: str) -> bool:
    """A run of Chinese characters made only of meta words ("详见上文推理过程")."""
    return splits_into(token, _META_CJK)


def _numeric_values(folded: str) -> int:
    """Distinct values offered by a bare list of numbers ("12% or 14%", "12-15", "between 12 and 15").

    Numerals count when separators, units and filler words are all that stands around them; an
    answer with other words ("from 2018 to 2019 it grew 14%") is one statement, left to the judge.
    """
    numerals = _NUMERAL.findall(folded)
    if len(numerals) < 2 or _WORDS_LEFT.sub("", _NUMERAL.sub(" ", folded)).strip():
        return 1
    return len({numeral.replace(",", "") for numeral in numerals})


def _items(folded: str) -> list[str]:
    """The items of a list, whatever the separator ("yes/no", "积极或消极", "either 5 or 6", "A、B")."""
    items = (item.strip() for item in _LIST_ITEMS.split(folded))
    return [item.lstrip(_ITEM_LEAD) if len(item) > 1 else item for item in items if item]


def _labels_offered(folded: str, id_labels: Mapping[str, str] | None) -> int:
    """Distinct labels named by the items of a list ("yes/no", "积极或消极", "bullish, bearish")."""
    items = _items(folded)
    labels = {canonical_label(item, id_labels) for item in items} - {None}
    return len(labels) if len(items) > 1 else 1


def _letters_offered(folded: str, choices: Mapping[str, str] | None) -> int:
    """Distinct option letters named by the items of a list ("A、C", "可能是A，也可能是B", "ABD")."""
    letters: set[str] = set()
    for item in _items(folded):
        letters |= choice_letters(item.upper(), choices) or set()
    return len(letters)


def _text_items(folded: str) -> int:
    """Items of a short list of names ("恒昌汇财;纳觅财务"); 1 for anything that is not such a list."""
    items = _items(folded)
    if len(items) < 2 or any(len(item) > _MAX_LIST_ITEM_CHARS for item in items):
        return 1
    return len({" ".join(item.split()) for item in items})


def _offered(folded: str, answer_type: str, id_labels: Mapping[str, str] | None) -> int:
    if answer_type == "numeric":
        return _numeric_values(folded) if parse_number(folded) is None else 1
    if answer_type in ("label", "boolean"):
        return _labels_offered(folded, id_labels)
    if answer_type == "choice":
        return _letters_offered(folded, id_labels)
    if answer_type == "text":
        return _text_items(folded)
    return 1


def _slash_hedge(folded: str, golds: tuple[str, ...]) -> bool:
    """A slash hedge "w/g": a division whose numerator or denominator alone is a gold while the division
    is not (and that is not one value in two notations, "25% / 0.25")."""
    division = _DIVISION.fullmatch(folded)
    if division is None or one_value(division.groups()) or any(one_value((folded, gold)) for gold in golds):
        return False
    return any(one_value((side, gold)) for side in division.groups() for gold in golds)


def _is_name_list(gold: str) -> bool:
    """A short gold without spaces (a name or a list of names, as in FinCUGE's event answers)."""
    return len(gold) <= 64 and not any(ch.isspace() for ch in gold)


def _hedges(
    folded: str, folded_span: str | None, answer_type: str, golds: tuple[str, ...], id_labels
) -> bool:
    if folded_span is not None and count_span_answers(folded_span) > 1:
        return True
    if answer_type == "choice" and _HEDGE_LETTERS.search(folded):
        return True
    if answer_type == "numeric" and _slash_hedge(folded, golds):
        return True
    if answer_type == "text" and not (golds and all(_is_name_list(gold) for gold in golds)):
        return False
    offered = _offered(folded, answer_type, id_labels)
    if offered < 2:
        return False
    allowed = max((_offered(fold(gold), answer_type, id_labels) for gold in golds), default=1)
    return offered > max(allowed, 1)


def hack_reason(
    response: str,
    span: str | None,
    answer: str | None,
    *,
    answer_type: str,
    max_answer_chars: int = MAX_FINAL_ANSWER_CHARS,
    golds: Sequence[str] = (),
    choices: Mapping[str, str] | None = None,
) -> str | None:
    """Why this answer must score 0 without a judge call, or None (also None when there is no answer).

    ``span`` is the response's answer block (:func:`~finr1_verl.reward.answer.answer_span`), ``answer``
    the extracted final answer; ``golds`` the ground-truth readings (a hedge offers more distinct values
    than they contain) and ``choices`` the row's options or label ids.
    """
    if answer is None:
        return None
    if len(answer) > max_answer_chars or (span is not None and len(span) > 4 * max_answer_chars):
        return TOO_LONG if answer.strip() else EMPTY
    golds = tuple(str(gold) for gold in golds)
    options = tuple(choices.items()) if isinstance(choices, Mapping) else None
    key = (answer, span, answer_type, golds, options)
    if span is not None and len(span) <= MEMO_CHARS and len(answer) <= MEMO_CHARS:
        try:
            reason = _answer_reason_memo(*key)
        except TypeError:  # unhashable option texts
            reason = _answer_reason(*key)
    else:
        reason = _answer_reason(*key)
    if reason is EMPTY:
        return reason
    window = response[-MAX_SCAN_CHARS:]
    if _repeated_tag(response) or (span is None and _FORGED.search(fold(window))):
        return FAKE_TAGS
    return reason


def _repeated_tag(response: str) -> bool:
    return (
        response.count(THINK_OPEN) > 1
        or response.count(THINK_CLOSE) > 1
        or response.count(ANSWER_OPEN) > 1
        or response.count(ANSWER_CLOSE) > 1
    )


def _answer_reason(
    answer: str, span: str | None, answer_type: str, golds: tuple[str, ...], options: tuple | None
) -> str | None:
    """:func:`hack_reason` without the checks on the whole response (repeated tags, forged tags without a span)."""
    folded = fold(answer)
    if not _letters_only(folded):
        return EMPTY
    folded_span = fold(span) if span is not None else folded
    if span is not None and (any(tag in folded_span for tag in _TAGS) or _FORGED.search(folded_span)):
        return FAKE_TAGS
    if _GRADER.search(folded_span) or (not folded_span.isascii() and _GRADER_ZH.search(folded_span)):
        return ADDRESSES_GRADER
    if _hedges(
        folded, None if span is None else folded_span, answer_type, golds, dict(options) if options else None
    ):
        return HEDGE
    is_label = (
        answer_type in ("label", "boolean") and canonical_label(folded, options and dict(options)) is not None
    )
    is_letter = (
        answer_type == "choice" and choice_letters(folded.upper(), options and dict(options)) is not None
    )
    if not is_label and (
        _letters_only(folded) in _OPENERS
        or _STEP_BY_STEP.fullmatch(folded.strip())
        or (not is_letter and _only_meta_words(_LATEX_WORDS.sub(" ", folded)))
    ):
        return CONTENT_FREE
    if answer_type == "numeric" and not _DIGIT.search(folded):
        return NO_DIGIT
    return None


_answer_reason_memo = functools.lru_cache(maxsize=16_384)(_answer_reason)


def clear_guard_cache() -> None:
    """Forget memoised guard reasons (to measure cold costs)."""
    _answer_reason_memo.cache_clear()


# Process-wide guard hits by reason (the per-sample metric is ``hacked``).
GUARD_COUNTS = Counters(REASONS)
