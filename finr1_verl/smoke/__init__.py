"""CPU smoke mode: verl's real SFT and GRPO trainers at tiny sizes on a machine without a GPU.

Used by ``recipes/run_fin_r1_*.sh --smoke``, ``scripts/run_pipeline.sh`` on CPU, the tests and the
benchmarks; nothing else in the package imports it.

- ``platform``     CPU platform + rollout backend registration, loaded by verl's plugin hooks
- ``hf_rollout``   the transformers rollout backend ("hf") in verl's two rollout registries
- ``launch``       the environment and Hydra overrides of a smoke run
- ``tiny_model``   a tiny random Qwen2 with a locally trained tokenizer (nothing is downloaded)
- ``format_model`` that tiny model briefly trained on the answer format (the GRPO starting policy)
- ``fake_openai``  a loopback OpenAI-compatible server (the judge of smoke runs, tests and benchmarks)

Command line: ``python -m finr1_verl.smoke --help``.
"""
