"""Fin-R1's strict output-format check.

The rule (the format half of Fin-R1's reward, 1 point):

* the response is ``<think>`` REASONING ``</think>`` ``<answer>`` ANSWER ``</answer>`` and nothing else;
* each of the four tags occurs exactly once, in that order;
* only whitespace (spaces, tabs, newlines) may stand before ``<think>``, between ``</think>`` and
  ``<answer>``, and after ``</answer>``;
* REASONING and ANSWER each contain something other than whitespace.

``think_in_prompt=True`` is for chat templates that end the generation prompt with ``<think>`` (the
response then starts inside the reasoning): the response must contain no ``<think>`` at all and is
otherwise checked by the same rule.

The check uses ``str.count``/``str.find`` only, so it runs in linear time on any input.
"""

from __future__ import annotations

THINK_OPEN, THINK_CLOSE = "<think>", "</think>"
ANSWER_OPEN, ANSWER_CLOSE = "<answer>", "</answer>"


def check_format(response: str, think_in_prompt: bool = False) -> bool:
    """True when ``response`` follows Fin-R1's think/answer format exactly (see the module docstring)."""
    if not isinstance(response, str):
        return False
    expected_think_opens = 0 if think_in_prompt else 1
    if response.count(THINK_OPEN) != expected_think_opens:
        return False
    if any(response.count(tag) != 1 for tag in (THINK_CLOSE, ANSWER_OPEN, ANSWER_CLOSE)):
        return False
    think_start = 0 if think_in_prompt else response.find(THINK_OPEN)
    think_end = response.find(THINK_CLOSE)
    answer_start = response.find(ANSWER_OPEN)
    answer_end = response.find(ANSWER_CLOSE)
    if not think_start <= think_end < answer_start < answer_end:
        return False
    reasoning = response[think_start + (0 if think_in_prompt else len(THINK_OPEN)) : think_end]
    answer = response[answer_start + len(ANSWER_OPEN) : answer_end]
    outside = (
        ("" if think_in_prompt else response[:think_start]),
        response[think_end + len(THINK_CLOSE) : answer_start],
        response[answer_end + len(ANSWER_CLOSE) :],
    )
    return bool(reasoning.strip()) and bool(answer.strip()) and not any(part.strip() for part in outside)
