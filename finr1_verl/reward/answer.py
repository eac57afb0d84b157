"""Answer extraction: which part of a response is the final answer.

* :func:`answer_span` - the raw text inside the last ``<answer>…</answer>`` that follows the reasoning
  (``None`` when the response has no closed answer block, e.g. a truncated generation).
* :func:`extract_answer` - the final answer: the last balanced ``\\boxed{…}`` / ``\\fbox{…}`` inside the
  answer span when there is one (nested braces handled, ``\\boxed{\\text{…}}`` unwrapped), else the
  whole span.  ``lenient=True`` is for models that ignore the tags (evaluation of base models): when
  no answer block exists it falls back to the last box in the text after the reasoning, then to the
  last "the answer is X" / "answer: X" / "答案是X" / "答案为X" / "答案：X" (unless X ends with a colon: it
  introduces a later line), then to the last non-empty line.
* :func:`final_answer` - :func:`extract_answer` for a caller that already holds the answer span.
* :func:`boxed_values` - every balanced box in a text, in order (for hedge detection).
* :func:`count_final_answers` - how many distinct final answers a response commits to: the number
  of distinct boxed values in the answer span (1 when the span has no box, 0 without a span);
  :func:`count_span_answers` counts them in a span.  The reward's hack guard uses it to penalise
  "\\boxed{5} or \\boxed{6}" (boxes holding one value in two notations, ``\\boxed{14%} = \\boxed{0.14}``,
  count once).
* A stop token the decoder left at the end of the answer block (``<|im_end|>``, ``</s>``) is not part of it.

Only ``str.find``-style scans and a linear brace matcher are used, and at most the last
:data:`MAX_SCAN_CHARS` characters of a response are searched, so enormous inputs cost bounded time.
The boxes of short texts are memoised: a GRPO group's responses share a few answer blocks, and
the reward reads the boxes of each block twice (the answer, and the hedge count).
"""

from __future__ import annotations

import functools
import re

from finr1_verl.reward.format import ANSWER_CLOSE, ANSWER_OPEN, THINK_CLOSE, THINK_OPEN, strip_stop_tokens
from finr1_verl.reward.numbers import one_value

# Final answers sit at the end of a response; 16 KB covers any real answer block.
MAX_SCAN_CHARS = 16_384
# A box longer than this is not a final answer (and would only cost time to match).
MAX_BOX_CHARS = 2_048
# Boxes nested deeper than this are not read further (each level rescans its body: bounded work).
MAX_BOX_DEPTH = 3
# Texts up to this length have their boxes memoised (memory <= _BOX_MEMO_SIZE x this, bounded).
MEMO_CHARS = 1_024
_BOX_MEMO_SIZE = 16_384
_BOX_COMMAND = re.compile(r"\\(?:boxed|fbox)[ ]*\{")
_BRACE = re.compile(r"[{}]")
_WRAPPER = re.compile(r"^\\(?:text|textbf|mathrm|mathbf|rm|bf)\s*\{([^{}]*)\}$")
_ANSWER_CUE = re.compile(
    r"the (?:final )?answer is|final answer:|answer:|答案是|答案为|答案：", re.IGNORECASE
)


def _after_reasoning(response: str, think_in_prompt: bool) -> str | None:
    """The text after the reasoning block; None when the reasoning never closed."""
    close = response.rfind(THINK_CLOSE)
    if close >= 0:
        return response[close + len(THINK_CLOSE) :]
    if think_in_prompt or THINK_OPEN in response:
        return None
    return response


def answer_span(response: str, think_in_prompt: bool = False) -> str | None:
    """Raw text of the last closed ``<answer>`` block after the reasoning, or None."""
    if not isinstance(response, str):
        return None
    tail = _after_reasoning(response[-MAX_SCAN_CHARS:], think_in_prompt)
    if tail is None:
        return None
    start = tail.rfind(ANSWER_OPEN)
    if start < 0:
        return None
    end = tail.find(ANSWER_CLOSE, start)
    if end < 0:
        return None
    return strip_stop_tokens(tail[start + len(ANSWER_OPEN) : end])


def _brace_pairs(text: str) -> dict[int, int]:
    """Position of each balanced ``{`` mapped to its ``}``, in one linear pass."""
    pairs: dict[int, int] = {}
    stack: list[int] = []
    for match in _BRACE.finditer(text):
        if match.group() == "{":
            stack.append(match.start())
        elif stack:
            pairs[stack.pop()] = match.start()
    return pairs


def _unwrap(value: str) -> str:
    value = value.strip()
    match = _WRAPPER.match(value)
    return match.group(1).strip() if match else value


def boxed_values(text: str) -> list[str]:
    """Every balanced outermost ``\\boxed{}``/``\\fbox{}`` content in ``text`` (its last MAX_SCAN_CHARS).

    A box inside another box counts once, as its innermost value (``\\boxed{\\boxed{5}}`` is "5").
    """
    return list(_boxes(text[-MAX_SCAN_CHARS:])) if isinstance(text, str) else []


def _boxes(text: str, depth: int = 0) -> tuple[str, ...]:
    if "\\boxed" not in text and "\\fbox" not in text:
        return ()
    return _boxes_memo(text, depth) if len(text) <= MEMO_CHARS else _scan_boxes(text, depth)


def _scan_boxes(text: str, depth: int = 0) -> tuple[str, ...]:
    pairs = _brace_pairs(text)
    values: list[str] = []
    covered_until = -1
    for command in _BOX_COMMAND.finditer(text):
        open_brace = command.end() - 1
        close_brace = pairs.get(open_brace)
        if close_brace is None or command.start() < covered_until:
            continue
        covered_until = close_brace
        body = text[open_brace + 1 : close_brace]
        if len(body) > MAX_BOX_CHARS:
            continue
        inner = _boxes(body, depth + 1) if depth < MAX_BOX_DEPTH else ()
        values.append(inner[-1] if inner else _unwrap(body))
    return tuple(values)


_boxes_memo = functools.lru_cache(maxsize=_BOX_MEMO_SIZE)(_scan_boxes)


def clear_box_cache() -> None:
    """Forget memoised boxes (to measure cold costs)."""
    _boxes_memo.cache_clear()


def last_boxed(text: str) -> str | None:
    """The last balanced box content in ``text``, or None."""
    if not isinstance(text, str):
        return None
    values = _boxes(text[-MAX_SCAN_CHARS:])
    return values[-1] if values else None


def _after_cue(text: str) -> str | None:
    """The rest of the line after the last answer cue ("the answer is", "答案是", ...); None when that
    line introduces what follows ("The answer is directly stated in Document 1:")."""
    cues = list(_ANSWER_CUE.finditer(text))
    if not cues:
        return None
    last = cues[-1]
    line = text[last.end() :].lstrip(" \t:：").split("\n", 1)[0].strip()
    if line.endswith((":", "：")):
        return None
    return line.rstrip(".。").strip() or None


def _last_line(text: str) -> str | None:
    for line in reversed(text.strip().splitlines()):
        line = line.strip().strip("*").strip()
        if line:
            return line
    return None


def extract_answer(response: str, *, lenient: bool = False, think_in_prompt: bool = False) -> str | None:
    """The final answer of a response (see the module docstring); None when there is none."""
    if not isinstance(response, str):
        return None
    return final_answer(response, answer_span(response, think_in_prompt), lenient=lenient)


def final_answer(response: str, span: str | None, *, lenient: bool = False) -> str | None:
    """:func:`extract_answer` given the response's :func:`answer_span` (computed once by the caller)."""
    if span is not None:
        boxed = last_boxed(span)
        answer = boxed if boxed is not None else span.strip()
        return answer or None
    if not lenient or not isinstance(response, str):
        return None
    text = response[-MAX_SCAN_CHARS:]
    close = text.rfind(THINK_CLOSE)
    if close >= 0:
        text = text[close + len(THINK_CLOSE) :]
    text = text.replace(ANSWER_OPEN, "\n").replace(ANSWER_CLOSE, "\n")
    boxed = last_boxed(text)
    if boxed is not None:
        return boxed or None
    return _after_cue(text) or _last_line(text)


def count_final_answers(response: str, think_in_prompt: bool = False) -> int:
    """Distinct final answers in the answer span: distinct boxed values, 1 for an unboxed span, 0 without one."""
    span = answer_span(response, think_in_prompt)
    return 0 if span is None else count_span_answers(span)


def count_span_answers(span: str) -> int:
    """:func:`count_final_answers` for an answer span."""
    values = {" ".join(value.split()) for value in _boxes(span[-MAX_SCAN_CHARS:])}
    if len(values) > 1 and len(values) <= 3 and one_value(sorted(values)) is not None:
        return 1  # one value in two notations: \boxed{14%} = \boxed{0.14}
    return len(values) if values else int(bool(span.strip()))
