"""What every LLM judge shares: a boxed reply, its parser, the request, the error.

A judge (:class:`~finr1_verl.reward.judge.AnswerJudge`, the filter's ``QualityJudge``) renders its
prompt (:mod:`finr1_verl.prompts`) with model-written text placed between delimiters that the text
cannot forge, and asks for a reply that is exactly one ``\\boxed{...}``.  :meth:`LLMJudge.ask` sends it
at temperature 0; a reply of any other shape is retried by the client (bounded, never cached) and then,
like any client failure after its retries, raises :class:`JudgeError`: a judge fault never becomes a
verdict or a score.  With ``structured_output`` a vLLM server is told to produce only that shape.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from finr1_verl.llm import LLMClient, LLMError
from finr1_verl.llm.types import REJECTED, ChatResult

UNPARSEABLE = "unparseable"
# Any tag-like text: a prompt's delimiters in any spacing, and every other tag a data block has no use for.
ANY_TAG = re.compile(r"<\s*/?\s*[a-z_|][^<>\n]{0,64}>", re.IGNORECASE)


class JudgeError(Exception):
    """The judge gave no usable reply. ``kind``: an LLM error kind, or ``unparseable``."""

    def __init__(self, kind: str, message: str):
        super().__init__(f"[{kind}] {message}")
        self.kind = kind


def delimiters(template: str) -> re.Pattern[str]:
    """The opening and closing forms, in any case and spacing, of every ``<name>`` block in ``template``."""
    names = dict.fromkeys(re.findall(r"<([a-z_]+)>", template))
    return re.compile(r"</?\s*(" + "|".join(names) + r")\s*>", re.IGNORECASE)


@dataclass(frozen=True)
class BoxedReply:
    """A reply that is exactly one ``\\boxed{body}`` (surrounding whitespace allowed).

    ``body`` is a regular expression; ``choices``, when given, are the only allowed replies, and vLLM
    is told to pick one of them instead of matching the pattern.
    """

    body: str
    choices: tuple[str, ...] = ()

    @property
    def pattern(self) -> str:
        return r"\\boxed\{" + self.body + r"\}"

    def parse(self, text: str) -> str | None:
        """The box's content, or None for any other reply."""
        match = re.fullmatch(r"\\boxed\{(" + self.body + r")\}", text.strip())
        return None if match is None else match.group(1)

    def accepts(self, text: str) -> bool:
        return self.parse(text) is not None

    def structured_outputs(self) -> dict[str, object]:
        """vLLM's ``structured_outputs`` request field for this reply."""
        return {"choice": list(self.choices)} if self.choices else {"regex": self.pattern}


def chat_messages(system: str, user: str) -> list[dict[str, str]]:
    return [{"role": "system", "content": system}, {"role": "user", "content": user}]


class LLMJudge:
    """A judge over one client (reuse one instance, and its client, for many calls)."""

    def __init__(self, client: LLMClient, *, structured_output: bool = False, max_tokens: int = 16):
        self.client = client
        self.structured_output = structured_output
        self.max_tokens = max_tokens

    async def ask(
        self, messages: list[dict[str, str]], reply: BoxedReply, deadline_s: float | None = None
    ) -> ChatResult:
        """One request at temperature 0 whose reply ``reply`` accepts (the client caches identical requests),
        retries and backoff included within ``deadline_s`` when given."""
        extra = {"structured_outputs": reply.structured_outputs()} if self.structured_output else None
        try:
            return await self.client.chat(
                messages,
                max_tokens=self.max_tokens,
                temperature=0.0,
                extra_body=extra,
                accept=reply.accepts,
                deadline_s=deadline_s,
            )
        except LLMError as err:
            raise JudgeError(UNPARSEABLE if err.kind == REJECTED else err.kind, str(err)) from err
