"""Fixtures shared by the whole suite: the tiny model, the loopback OpenAI server, shared data."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from finr1_verl.smoke.fake_openai import FakeOpenAIServer  # noqa: E402
from finr1_verl.smoke.tiny_model import build_tiny_qwen2  # noqa: E402


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory) -> Path:
    """A tiny random Qwen2 + ChatML tokenizer, written once per test run."""
    return build_tiny_qwen2(tmp_path_factory.mktemp("tiny-qwen2"))


@pytest.fixture(scope="session")
def tiny_tokenizer(tiny_model_dir):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(tiny_model_dir))


@pytest.fixture
def fake_openai():
    """A fresh loopback OpenAI-compatible server for one test; script it with ``.script(Reply(...))``."""
    with FakeOpenAIServer() as server:
        yield server
