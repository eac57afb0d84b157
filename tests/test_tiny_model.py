"""The tiny test model: generates tokens with transformers and loads through verl's tokenizer helper."""

from __future__ import annotations

import torch


def test_tiny_model_generates(tiny_model_dir, tiny_tokenizer):
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(str(tiny_model_dir))
    assert model.config.head_dim == 64 and model.config.num_hidden_layers == 2
    prompt = tiny_tokenizer.apply_chat_template(
        [{"role": "user", "content": "What is the growth rate?"}],
        add_generation_prompt=True,
        return_tensors="pt",
        return_dict=True,
    )
    with torch.no_grad():
        out = model.generate(
            **prompt, max_new_tokens=8, do_sample=False, pad_token_id=tiny_tokenizer.pad_token_id
        )
    new_tokens = out[0, prompt["input_ids"].shape[1] :]
    assert 1 <= len(new_tokens) <= 8
    assert all(0 <= t < len(tiny_tokenizer) for t in new_tokens.tolist())


def test_verl_loads_the_tokenizer_and_round_trips_reward_text(tiny_model_dir):
    from verl.utils import hf_tokenizer

    tokenizer = hf_tokenizer(str(tiny_model_dir))
    text = "<think>\n增长 14.46%\n</think>\n<answer>\n\\boxed{14.46\\%}\n</answer>"
    ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    assert tokenizer.decode(ids, skip_special_tokens=True) == text
    rendered = tokenizer.apply_chat_template(
        [{"role": "user", "content": "hi"}], add_generation_prompt=True, tokenize=False
    )
    assert rendered == "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n"
    assert tokenizer.pad_token == "<|endoftext|>" and tokenizer.eos_token == "<|im_end|>"
