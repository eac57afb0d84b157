"""The answer-equivalence judge: does a candidate final answer equal the reference? (Fin-R1's judge)

Only the extracted final answer is sent — never the reasoning — whitespace-collapsed, capped in
length and placed between delimiters that it cannot forge: it is folded exactly as the hack guard
reads it (NFKC, invisible characters dropped, look-alikes mapped; its case kept), so a full-width or
disguised tag becomes ASCII and is removed with every other tag (every data block loses its tags).
The prompt (``prompts.JUDGE_*``, versioned) puts the criteria first and shows reference and
candidate only; the question is optional and off by default, as Fin-R1 measured it to hurt.  The
verdict must be exactly ``\\boxed{1}`` or ``\\boxed{0}``; with ``structured_output=True`` vLLM is told
to produce one of the two (``structured_outputs.choice``, vLLM >= 0.12).  Any other reply is retried
(bounded, never cached) and then, like any client failure after its retries, raises
:class:`~finr1_verl.reward.llm_judge.JudgeError`: a judge fault never becomes a verdict.  The request,
reply parsing and error are the judges' shared core, :mod:`finr1_verl.reward.llm_judge`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from finr1_verl import prompts
from finr1_verl.llm import LLMClient
from finr1_verl.llm.stats import Counters
from finr1_verl.reward.guard import MAX_FINAL_ANSWER_CHARS
from finr1_verl.reward.llm_judge import ANY_TAG, BoxedReply, JudgeError, LLMJudge, chat_messages
from finr1_verl.reward.normalise import fold

VERDICT = BoxedReply("[01]", choices=(prompts.JUDGE_VERDICT_EQUAL, prompts.JUDGE_VERDICT_DIFFERENT))


@dataclass(frozen=True)
class JudgeSettings:
    """Where the answer judge is served and how it is asked.  Frozen and hashable: it is also the key
    of the one judge (and client) built per settings in a process (:func:`~finr1_verl.reward.score.judge_for`).
    """

    urls: tuple[str, ...] = ()  # list or comma string; default $FINR1_JUDGE_URLS
    model: str = ""  # default $FINR1_JUDGE_MODEL
    api_key: str | None = field(default=None, repr=False)  # default $FINR1_JUDGE_API_KEY / $OPENAI_API_KEY
    timeout: float = 30.0  # seconds per judge request
    max_concurrency: int = 64  # judge requests in flight per endpoint and worker
    max_retries: int = 3
    # The longest final answer that is scored: a longer one scores 0 (hack guard) and is never shown
    # to the judge.  See MAX_FINAL_ANSWER_CHARS for why one limit serves training and evaluation.
    max_answer_chars: int = MAX_FINAL_ANSWER_CHARS
    include_question: bool = False  # Fin-R1 measured the question to hurt the judge
    structured_output: bool = False  # vLLM judges: restrict the reply to the two verdicts
    max_tokens: int = 16

    def client(self) -> LLMClient:
        return LLMClient(
            self.urls,
            self.model,
            api_key=self.api_key,
            max_concurrency=self.max_concurrency,
            timeout_s=self.timeout,
            max_retries=self.max_retries,
            max_tokens=self.max_tokens,
        )


@dataclass(frozen=True)
class JudgeResult:
    equal: bool
    raw: str
    cached: bool
    prompt_version: str = prompts.JUDGE_PROMPT_VERSION


def parse_verdict(text: str) -> bool | None:
    """True/False for a reply that is exactly one boxed verdict (surrounding whitespace allowed)."""
    digit = VERDICT.parse(text)
    return None if digit is None else digit == "1"


def as_data(text: str, max_chars: int) -> str:
    """Text made safe to place between the prompt's delimiters: no tags, one line, capped."""
    text = " ".join(ANY_TAG.sub(" ", text[: 4 * max_chars]).split())
    return text if len(text) <= max_chars else text[:max_chars] + " …[truncated]"


def as_candidate(text: str, max_chars: int) -> str:
    """The candidate's data block: :func:`as_data` of the text folded as the hack guard reads it
    (:func:`~finr1_verl.reward.normalise.fold`, case kept), so the judge sees no letters that the guard did not."""
    return as_data(fold(text[: 4 * max_chars], keep_case=True), max_chars)


class AnswerJudge(LLMJudge):
    """Asks an LLM whether two final answers are equivalent; reuse one instance for many calls."""

    def __init__(
        self,
        client: LLMClient,
        *,
        max_answer_chars: int = MAX_FINAL_ANSWER_CHARS,
        max_reference_chars: int = 2000,
        include_question: bool = False,
        structured_output: bool = False,
        max_tokens: int = 16,
    ):
        super().__init__(client, structured_output=structured_output, max_tokens=max_tokens)
        self.max_answer_chars = max_answer_chars
        self.max_reference_chars = max_reference_chars
        self.include_question = include_question
        self.stats = Counters(("equal", "different"))  # plus error/<kind> when the judge fails

    def build_messages(
        self,
        candidate: str,
        reference: str | Sequence[str],
        *,
        question: str | None = None,
        choices: Mapping[str, str] | None = None,
    ) -> list[dict[str, str]]:
        readings = [reference] if isinstance(reference, str) else list(reference)
        if not readings:
            raise ValueError("the judge needs at least one reference reading")
        ref = as_data(readings[0], self.max_reference_chars)
        ref += "".join(prompts.JUDGE_REFERENCE_ALSO.format(reading=as_data(r, 200)) for r in readings[1:])
        question_block = ""
        if self.include_question and question:
            question_block = prompts.JUDGE_QUESTION_BLOCK.format(question=as_data(question, 4000))
        options_block = ""
        if choices:
            options = "\n".join(f"{label}. {as_data(str(text), 300)}" for label, text in choices.items())
            options_block = prompts.JUDGE_OPTIONS_BLOCK.format(options=options)
        user = prompts.JUDGE_USER_TEMPLATE.format(
            question_block=question_block,
            options_block=options_block,
            reference=ref,
            candidate=as_candidate(candidate, self.max_answer_chars),
        )
        return chat_messages(prompts.JUDGE_SYSTEM_PROMPT, user)

    async def judge(
        self,
        candidate: str,
        reference: str | Sequence[str],
        *,
        question: str | None = None,
        choices: Mapping[str, str] | None = None,
        deadline_s: float | None = None,
    ) -> JudgeResult:
        """One verdict at temperature 0 (identical pairs are answered once by the client's cache),
        retries included within ``deadline_s`` when given."""
        messages = self.build_messages(candidate, reference, question=question, choices=choices)
        try:
            reply = await self.ask(messages, VERDICT, deadline_s)
        except JudgeError as err:
            self.stats.add(f"error/{err.kind}")
            raise
        equal = parse_verdict(reply.content) is True
        self.stats.add("equal" if equal else "different")
        return JudgeResult(equal=equal, raw=reply.content, cached=reply.cached)
