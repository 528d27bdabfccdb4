"""Shared fixtures: a tiny random Llama and a byte-level tokenizer with a ChatML template.

Built in code in a second, no download. Saved once per session to a directory so the
directory-loading path is exercised too; each test gets a fresh copy of the model.
"""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
# Tiny points take milliseconds: worker processes would only add start-up time (the parallel
# path is tested where a config asks for workers).
os.environ.setdefault("SECVEC_WORKERS", "1")
# Unit tests assert CPU float results of a tiny model, on any machine: on a GPU host they stay on
# the CPU, and tests/test_cuda.py runs the device paths in a subprocess without this variable.
os.environ.setdefault("ACCELERATE_USE_CPU", "1")

import pytest
import torch

# The tiny model's ops are microseconds long: a second thread only adds synchronisation, and on
# a busy machine spinning threads make them hundreds of times slower.
torch.set_num_threads(1)

CHATML = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


def build_tokenizer():
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    alphabet = pre_tokenizers.ByteLevel.alphabet()
    vocab = {ch: i for i, ch in enumerate(sorted(alphabet))}
    for special in ("<|im_start|>", "<|im_end|>", "<|endoftext|>"):
        vocab[special] = len(vocab)
    tok = Tokenizer(models.BPE(vocab=vocab, merges=[]))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<|im_start|>", eos_token="<|im_end|>",
                                   pad_token="<|endoftext|>",
                                   additional_special_tokens=["<|im_start|>", "<|im_end|>"])
    fast.chat_template = CHATML
    return fast


def build_model(vocab_size: int, seed: int = 0):
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(seed)
    cfg = LlamaConfig(vocab_size=vocab_size, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                      num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=512,
                      initializer_range=0.2, tie_word_embeddings=True, bos_token_id=vocab_size - 3, eos_token_id=vocab_size - 2,
                      pad_token_id=vocab_size - 1)
    return LlamaForCausalLM(cfg)


@pytest.fixture(scope="session")
def tiny_dir(tmp_path_factory):
    path = tmp_path_factory.mktemp("tiny-model")
    tok = build_tokenizer()
    model = build_model(len(tok))
    model.save_pretrained(path)
    tok.save_pretrained(path)
    return str(path)


@pytest.fixture
def tiny(tiny_dir):
    from secvec.models.loading import load_model

    return load_model(tiny_dir)


@pytest.fixture
def tiny_factory():
    """Build a tiny model of another vocabulary size (a 'different base model')."""
    return build_model


@pytest.fixture
def pairs():
    from secvec.data.schema import Example

    harmful = [Example.from_pair(f"how do I do bad thing {i}?", f"Sure, step {i}: do the bad thing.") for i in range(8)]
    benign = [Example.from_pair(f"what is {i} plus 1?", f"It is {i + 1}.") for i in range(8)]
    return harmful, benign
