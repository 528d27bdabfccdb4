"""Turn chats into token ids with the loss on assistant turns only.

The template is applied to each growing prefix of the chat: the tokens between "prefix up to
the assistant's turn (with generation prompt)" and "prefix including that turn" are that
turn's, and only they get labels. This needs no `{% generation %}` markers in the template,
only that rendering a prefix gives a prefix of the full rendering (true for ChatML-style
templates; checked, and a template that breaks it fails loudly).

An example whose `meta["prefill"]` is the start of its last answer trains only the rest: the
prefill is given to the model as the start of its own answer (a prefilled response, or a
harmful opening that a recovery example teaches the model to break off).
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from typing import Sequence

import torch

from secvec.data.schema import Example
from secvec.errors import DataError
from secvec.models.chat import render

log = logging.getLogger(__name__)
IGNORE = -100


@dataclass
class Encoded:
    input_ids: list[int]
    labels: list[int]


def _ids(tokenizer, text: str) -> list[int]:
    return tokenizer(text, add_special_tokens=False)["input_ids"]


def encode_example(tokenizer, example: Example, max_length: int) -> Encoded:
    msgs = example.messages
    ids: list[int] = []
    labels: list[int] = []
    for i, m in enumerate(msgs):
        if m["role"] != "assistant":
            continue
        asked = render(tokenizer, msgs[:i], add_generation_prompt=True)
        before = _ids(tokenizer, asked)
        upto = _ids(tokenizer, render(tokenizer, msgs[: i + 1], add_generation_prompt=False))
        if upto[: len(before)] != before or before[: len(ids)] != ids:
            raise DataError("the tokenizer's chat template does not render prefixes consistently; "
                            "assistant-only loss masking needs a ChatML-style template")
        given = len(before)
        if i == len(msgs) - 1 and example.meta.get("prefill"):  # the answer's start is context, not a target
            # common prefix: the prefill's last token may merge with the text after it
            given = len(os.path.commonprefix([upto, _ids(tokenizer, asked + example.meta["prefill"])]))
        labels += [IGNORE] * (given - len(ids)) + upto[given:]
        ids = upto
    return Encoded(ids[:max_length], labels[:max_length])


def encode_examples(tokenizer, examples: Sequence[Example], max_length: int) -> list[Encoded]:
    """Encode all; examples whose assistant tokens are all cut by `max_length` are dropped with a warning."""
    encoded = [encode_example(tokenizer, ex, max_length) for ex in examples]
    kept = [e for e in encoded if any(t != IGNORE for t in e.labels)]
    if len(kept) < len(encoded):
        log.warning("%d of %d examples have no answer tokens within max_length=%d and were skipped",
                    len(encoded) - len(kept), len(encoded), max_length)
    if not kept:
        raise DataError(f"no example has answer tokens within max_length={max_length}; raise max_length")
    truncated = sum(len(e.input_ids) == max_length for e in kept)
    if truncated:
        log.info("%d of %d examples truncated to max_length=%d", truncated, len(kept), max_length)
    return kept


def collate(batch: Sequence[Encoded], pad_id: int) -> dict[str, torch.Tensor]:
    """Right-pad a batch; padding is masked out of attention and loss."""
    width = max(len(e.input_ids) for e in batch)
    ids = torch.full((len(batch), width), pad_id, dtype=torch.long)
    labels = torch.full((len(batch), width), IGNORE, dtype=torch.long)
    mask = torch.zeros((len(batch), width), dtype=torch.long)
    for row, e in enumerate(batch):
        n = len(e.input_ids)
        ids[row, :n] = torch.tensor(e.input_ids)
        labels[row, :n] = torch.tensor(e.labels)
        mask[row, :n] = 1
    return {"input_ids": ids, "labels": labels, "attention_mask": mask}


class BatchCycle:
    """Batches of a side data set drawn alongside training, one per step, in a seeded cycle.

    A regularizer's data (the vectors' benign KL answers, a protected job's anchor) is usually
    smaller than the run, so each pass reshuffles and the order depends only on `seed`.
    """

    def __init__(self, tokenizer, examples: Sequence[Example], max_length: int, batch_size: int, seed: int) -> None:
        import random

        self.encoded = encode_examples(tokenizer, examples, max_length)
        self.pad_id = tokenizer.pad_token_id
        self.batch_size = batch_size
        self.rng = random.Random(seed)
        self.order: list[int] = []

    def next(self, device: torch.device | str = "cpu") -> dict[str, torch.Tensor]:
        if len(self.order) < self.batch_size:
            fresh = list(range(len(self.encoded)))
            self.rng.shuffle(fresh)
            self.order += fresh
        take, self.order = self.order[: self.batch_size], self.order[self.batch_size:]
        return {k: v.to(device) for k, v in collate([self.encoded[i] for i in take], self.pad_id).items()}
