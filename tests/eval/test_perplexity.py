"""Perplexity on answer tokens: batch-size independent, and lower on text the model was trained on."""

import copy

import pytest

from secvec.config import TrainConfig
from secvec.eval.perplexity import perplexity
from secvec.training.sft import prepare_trainable, train


def test_perplexity_falls_on_text_the_model_learned(tiny, pairs):
    _, benign = pairs
    before = perplexity(tiny.model, tiny.tokenizer, benign, batch_size=3)
    assert before == pytest.approx(perplexity(tiny.model, tiny.tokenizer, benign, batch_size=8), rel=1e-4)
    cfg = TrainConfig(lr=3e-3, epochs=4, batch_size=4, max_length=96)
    model = prepare_trainable(copy.deepcopy(tiny.model), cfg)
    train(model, tiny.tokenizer, benign, cfg)
    assert 1.0 < perplexity(model, tiny.tokenizer, benign) < before
    assert not model.training
