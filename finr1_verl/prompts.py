"""Every prompt the project sends to a model, in one place, each with a version string.

Versions are recorded with every output that a prompt produced (judge verdicts, distilled
traces, filter results, evaluation reports), so a number can always be traced to its prompt.
"""

from __future__ import annotations

# --- Policy (SFT targets, RL prompts, evaluation) ------------------------------------------
# Fin-R1's inference system prompt (open-r1's demo config): think first, then answer, in tags.
SYSTEM_PROMPT_VERSION = "finr1-system-v1"
SYSTEM_PROMPT = (
    "A conversation between User and Assistant. The user asks a question, and the Assistant solves it. "
    "The assistant first thinks about the reasoning process in the mind and then provides the user "
    "with the answer. The reasoning process and answer are enclosed within <think> </think> and "
    "<answer> </answer> tags, respectively, i.e., <think>\nreasoning process here\n</think>\n"
    "<answer>\nanswer here\n</answer>"
)

# Appended to calculation and choice questions (Fin-R1: final answers of objective questions in \boxed{}).
BOXED_INSTRUCTION_EN = "Please put your final answer within \\boxed{}."
BOXED_INSTRUCTION_ZH = "请将最终答案写在 \\boxed{} 中。"
