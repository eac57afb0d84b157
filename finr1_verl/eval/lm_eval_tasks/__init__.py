"""Fin-R1's five benchmarks as an lm-evaluation-harness 0.4 task package (``pip install 'finr1-verl[eval-lm]'``).

Pass this folder to lm-eval's ``--include_path`` (``python -m finr1_verl.eval.lm_eval_tasks`` prints
it) and name the tasks ``finr1_finqa`` … or the tag ``finr1``; the benchmark files come in
``--metadata`` as for ``finr1-eval run --bench NAME=PATH``.  The tasks read the same items (the
seeded selection, or ``items`` = an items file of a ``finr1-eval`` run), the same ``[system, user]``
prompt (system turn as the task description, so ``--apply_chat_template`` renders the same chat)
and score each answer with the project's scorer (:func:`finr1_verl.eval.score.score_item`, rules
only): a verdict here is the verdict ``finr1-eval`` gives the same response.
"""

from pathlib import Path

TASKS_DIR = Path(__file__).resolve().parent
