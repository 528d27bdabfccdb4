"""Perplexity on answer tokens: does a model still predict ordinary benign text as before?

Stability asks whether a defense changes the model before anyone fine-tunes it; generated
answers can hide a small shift that the likelihood of held-out text shows.
"""

from __future__ import annotations

import math
from typing import Sequence

import torch
import torch.nn.functional as F

from secvec.data.schema import Example
from secvec.data.tokenize import IGNORE, collate, encode_examples


@torch.no_grad()
def perplexity(model: torch.nn.Module, tokenizer, examples: Sequence[Example], max_length: int = 256,
               batch_size: int = 8) -> float:
    """exp(mean negative log-likelihood per assistant token) over `examples`."""
    encoded = encode_examples(tokenizer, examples, max_length)
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    nll, count = 0.0, 0
    for i in range(0, len(encoded), batch_size):
        batch = {k: v.to(device) for k, v in collate(encoded[i:i + batch_size], tokenizer.pad_token_id).items()}
        logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits[:, :-1]
        labels = batch["labels"][:, 1:]
        nll += F.cross_entropy(logits.reshape(-1, logits.shape[-1]).float(), labels.reshape(-1),
                               ignore_index=IGNORE, reduction="sum").item()
        count += int((labels != IGNORE).sum())
    model.train(was_training)
    return math.exp(nll / count)
