"""A tiny random-init Qwen2 causal LM and a locally trained tokenizer with Qwen's ChatML template.

Nothing is downloaded: the byte-level BPE tokenizer is trained on a few local texts with the
``tokenizers`` library, and the model is random.  head_dim is 64 so vLLM's CPU build can serve it.
Run as a script to write one: ``python finr1_verl/smoke/tiny_model.py OUT_DIR``.
"""

from __future__ import annotations

import sys
from pathlib import Path

CHATML_TEMPLATE = (
    "{%- for message in messages %}"
    "{{- '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}"
    "{%- endfor %}"
    "{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}{%- endif %}"
)
SPECIAL_TOKENS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]

_CORPUS = [
    "The net change in revenue was $ 1,234 million, an increase of 14.5% over 2015.",
    "<think>\nFirst compute the difference, then divide by the base year.\n</think>\n<answer>\n\\boxed{0.145}\n</answer>",
    "What is the percentage change in operating income from 2016 to 2017? Answer: 12.3%",
    "Tweet: $AAPL beats estimates, shares jump. Sentiment: Bullish positive negative neutral",
    "下列关于金融衍生工具的说法，正确的是（ ）。A. 跨期性 B. 杠杆性 C. 联动性 D. 不确定性 答案是C",
    "请将最终答案写在 \\boxed{} 中。营业收入增长了 3.5 亿元，净利润下降 12%。是 否 合规 违规",
    "A conversation between User and Assistant. The assistant first thinks about the reasoning process.",
    "system user assistant 0 1 2 3 4 5 6 7 8 9 ( ) [ ] { } | - + * / = % $ ¥ €",
]


def build_tokenizer(out_dir: str | Path, vocab_size: int = 1024):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.post_processor = processors.ByteLevel(trim_offsets=False)
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    tok.train_from_iterator(_CORPUS * 4, trainer=trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        additional_special_tokens=["<|im_start|>"],
        model_max_length=32768,
    )
    fast.chat_template = CHATML_TEMPLATE
    fast.save_pretrained(str(out_dir))
    return fast


def build_tiny_qwen2(out_dir: str | Path, seed: int = 0) -> Path:
    """Write a tokenizer and a random 2-layer Qwen2 (hidden 128, head_dim 64) to ``out_dir``."""
    import torch
    from transformers import Qwen2Config, Qwen2ForCausalLM

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    tokenizer = build_tokenizer(out)
    config = Qwen2Config(
        vocab_size=len(tokenizer),
        hidden_size=128,
        intermediate_size=256,
        num_hidden_layers=2,
        num_attention_heads=2,
        num_key_value_heads=1,
        head_dim=64,
        max_position_embeddings=8192,
        tie_word_embeddings=True,
        bos_token_id=tokenizer.convert_tokens_to_ids("<|endoftext|>"),
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    torch.manual_seed(seed)
    model = Qwen2ForCausalLM(config)
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.save_pretrained(str(out), safe_serialization=True)
    return out


if __name__ == "__main__":
    print(build_tiny_qwen2(sys.argv[1] if len(sys.argv) > 1 else "tiny-qwen2"))
