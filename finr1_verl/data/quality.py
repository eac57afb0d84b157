"""Filter stage B: the judge rates a reasoning trace on Fin-R1's seven criteria (all must hold).

The prompt (``prompts.QUALITY_*``, versioned) gives the task domain, the task as the student saw it,
the reference answer, the trace and the trace's final answer, each between delimiters that the
model-written text cannot forge.  The reply must be exactly ``\\boxed{ddddddd}``: seven 0/1 scores
in criterion order, so a failed trace says which criteria failed.  Any other reply is retried by the
client (bounded, never cached) and then raises the judges' one error,
:class:`~finr1_verl.reward.llm_judge.JudgeError`; a fault never becomes a score.  With
``structured_output=True`` vLLM is told to produce only that pattern.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from finr1_verl import prompts
from finr1_verl.llm import LLMClient
from finr1_verl.reward.llm_judge import BoxedReply, LLMJudge, chat_messages, delimiters

CRITERIA = len(prompts.QUALITY_CRITERIA)
SCORES = BoxedReply("[01]{" + str(CRITERIA) + "}")  # seven 0/1 digits; vLLM's structured output matches it
_DELIMITER = delimiters(prompts.QUALITY_USER_TEMPLATE)


@dataclass(frozen=True)
class QualityResult:
    scores: str  # seven '0'/'1' characters in criterion order
    raw: str
    prompt_version: str = prompts.QUALITY_PROMPT_VERSION

    @property
    def passed(self) -> bool:
        return self.scores == "1" * CRITERIA

    @property
    def failed_criteria(self) -> list[int]:
        """1-based numbers of the criteria that do not hold."""
        return [number for number, score in enumerate(self.scores, start=1) if score == "0"]


def parse_scores(text: str) -> str | None:
    """The seven digits of a reply that is exactly one boxed score string, else None."""
    return SCORES.parse(text)


def as_block(text: str, max_chars: int) -> str:
    """Model-written text made safe to put between the delimiters; over-long text keeps head and tail."""
    text = _DELIMITER.sub(" ", text).strip()
    if len(text) <= max_chars:
        return text
    half = max_chars // 2
    return f"{text[:half]}\n…[{len(text) - 2 * half} characters left out]…\n{text[-half:]}"


class QualityJudge(LLMJudge):
    """Rates traces; reuse one instance (and its client) for a whole run."""

    def __init__(
        self,
        client: LLMClient,
        *,
        max_trace_chars: int = 24_000,
        max_text_chars: int = 6_000,
        structured_output: bool = False,
        max_tokens: int = 16,
    ):
        super().__init__(client, structured_output=structured_output, max_tokens=max_tokens)
        self.max_trace_chars = max_trace_chars
        self.max_text_chars = max_text_chars

    def build_messages(
        self, source: str, question: str, reference: str | Sequence[str], thinking: str, answer: str
    ) -> list[dict[str, str]]:
        readings = [reference] if isinstance(reference, str) else list(reference)
        user = prompts.QUALITY_USER_TEMPLATE.format(
            domain=prompts.QUALITY_DOMAINS.get(source, prompts.QUALITY_DEFAULT_DOMAIN),
            question=as_block(question, self.max_text_chars),
            reference="\n".join(as_block(r, self.max_text_chars) for r in readings),
            thinking=as_block(thinking, self.max_trace_chars),
            answer=as_block(answer, self.max_text_chars),
        )
        return chat_messages(prompts.QUALITY_SYSTEM_PROMPT, user)

    async def rate(
        self, source: str, question: str, reference: str | Sequence[str], thinking: str, answer: str
    ) -> QualityResult:
        """One rating at temperature 0 (the client caches identical requests)."""
        messages = self.build_messages(source, question, reference, thinking, answer)
        reply = await self.ask(messages, SCORES)
        return QualityResult(scores=parse_scores(reply.content) or "", raw=reply.content)
