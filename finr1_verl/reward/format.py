"""Fin-R1's strict output-format check.

The rule (the format half of Fin-R1's reward, 1 point):

* the response is ``<think>`` REASONING ``</think>`` ``<answer>`` ANSWER ``</answer>`` and nothing else;
* each of the four tags occurs exactly once, in that order;
* only whitespace (spaces, tabs, newlines; a leading byte-order mark too) may stand before ``<think>``, between ``</think>`` and
  ``<answer>``, and after ``</answer>``;
* REASONING and ANSWER each contain something other than whitespace.

``think_in_prompt=True`` is for chat templates that end the generation prompt with ``<think>`` (the
response then starts inside the reasoning): the response must contain no ``<think>`` at all and is
otherwise checked by the same rule.

REASONING must be visible: a block of only whitespace, format characters (zero-width, bidi), filler
characters (U+3164 and its kin, the braille blank) or punctuation and symbols fails.  Stop tokens a
rollout left at the very end (``<|im_end|>``, ``<|endoftext|>``, ``<|eot_id|>``, ``</s>``) are decoder
residue, not content: :func:`strip_stop_tokens` removes them before any check.

The check uses ``str.count``/``str.find`` and one scan of the reasoning, so it runs in linear time on any input.
"""

from __future__ import annotations

import unicodedata

THINK_OPEN, THINK_CLOSE = "<think>", "</think>"
ANSWER_OPEN, ANSWER_CLOSE = "<answer>", "</answer>"
# Some tokenizers' decoders keep a byte-order mark at the start of the text; it is not content.
BYTE_ORDER_MARK = "\ufeff"
STOP_TOKENS = ("<|im_end|>", "<|endoftext|>", "<|eot_id|>", "</s>")
# Letters that render as nothing (Hangul fillers, the Mongolian vowel separator, the braille blank).
_FILLERS = frozenset("\u115f\u1160\u3164\uffa0\u180e\u2800")


def strip_stop_tokens(text: str) -> str:
    """``text`` without the stop tokens (and whitespace) at its end."""
    stripped = text.rstrip()
    while stripped.endswith(STOP_TOKENS):
        token = next(t for t in STOP_TOKENS if stripped.endswith(t))
        stripped = stripped[: -len(token)].rstrip()
    return stripped if len(stripped) < len(text.rstrip()) else text


def visible(text: str) -> bool:
    """True when ``text`` holds a letter or digit that renders (not a filler character)."""
    return any(
        unicodedata.category(ch)[0] in "LN" and ch not in _FILLERS
        for ch in unicodedata.normalize("NFKC", text)
    )


def render_thinking(reasoning: str) -> str:
    """The reasoning block of a response: ``<think>``, the reasoning, ``</think>``, one per line."""
    return f"{THINK_OPEN}\n{reasoning}\n{THINK_CLOSE}"


def render_response(reasoning: str, answer: str) -> str:
    """A response in the format :func:`check_format` accepts: the reasoning block, then ``answer`` in
    ``<answer>``, one tag per line (the layout of Fin-R1's SFT targets)."""
    return f"{render_thinking(reasoning)}\n{ANSWER_OPEN}\n{answer}\n{ANSWER_CLOSE}"


def check_format(response: str, think_in_prompt: bool = False) -> bool:
    """True when ``response`` follows Fin-R1's think/answer format exactly (see the module docstring)."""
    if not isinstance(response, str):
        return False
    response = strip_stop_tokens(response)
    if (
        response.count(THINK_OPEN) != (0 if think_in_prompt else 1)
        or response.count(THINK_CLOSE) != 1
        or response.count(ANSWER_OPEN) != 1
        or response.count(ANSWER_CLOSE) != 1
    ):
        return False
    think_start = 0 if think_in_prompt else response.find(THINK_OPEN)
    think_end = response.find(THINK_CLOSE)
    answer_start = response.find(ANSWER_OPEN)
    answer_end = response.find(ANSWER_CLOSE)
    if not think_start <= think_end < answer_start < answer_end:
        return False
    reasoning_start = think_start if think_in_prompt else think_start + len(THINK_OPEN)
    return (
        not response[:think_start].lstrip(BYTE_ORDER_MARK).strip()
        and not response[think_end + len(THINK_CLOSE) : answer_start].strip()
        and not response[answer_end + len(ANSWER_CLOSE) :].strip()
        and visible(response[reasoning_start:think_end])
        and bool(response[answer_start + len(ANSWER_OPEN) : answer_end].strip())
    )
