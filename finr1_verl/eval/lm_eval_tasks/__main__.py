"""Print the task folder for lm-eval's ``--include_path``."""

from finr1_verl.eval.lm_eval_tasks import TASKS_DIR

print(TASKS_DIR)
