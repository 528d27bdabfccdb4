"""Lisa: lazy safety alignment by bi-state optimization (Huang et al. 2024), written for secvec.

The user's fine-tuning run is cut into chunks of `user_steps` optimizer steps; before each
chunk the provider spends `align_steps` steps on its alignment data (refusals plus the
model's own benign answers, the set the align stage used). Plain alternation lets each state
drift far from what the other one learned, so Lisa adds a proximal term
(rho/2) * ||w - w_anchor||^2 in both states, w_anchor being the weights at the last switch.

Every state is one call of the shared `train` loop with the proximal term as its
regularizer. The user's examples are consumed in the order vanilla fine-tuning would use
(same epochs, same seed), so Lisa sees the same user data and adds only the alignment steps.
Each state starts a fresh AdamW (moments are not carried across a switch) and runs its own
scheduler, so use a constant learning rate for a faithful comparison.
"""

from __future__ import annotations

import logging
import math
import random
import time
from typing import Iterator, Optional, Sequence

import torch

from secvec.data.schema import Example
from secvec.data.tokenize import Encoded, encode_examples
from secvec.defenses.base import DEFENSES, Defense, DefenseInputs
from secvec.errors import ConfigError, DataError
from secvec.training.sft import (Progress, StepEvent, TrainResult, batch_plan, prepare_trainable, train,
                                 trainable_parameters)

log = logging.getLogger(__name__)


class Proximal:
    """Regularizer for `train`: (rho/2) * squared distance of the trainable weights to a snapshot."""

    def __init__(self, model: torch.nn.Module, rho: float) -> None:
        self.rho = rho
        self.anchor = [p.detach().clone() for p in trainable_parameters(model)]

    def __call__(self, model: torch.nn.Module, accelerator) -> torch.Tensor:
        params = trainable_parameters(accelerator.unwrap_model(model))
        return self.rho / 2 * sum(((p - a.to(p.device)) ** 2).sum() for p, a in zip(params, self.anchor))


def bistate_schedule(user_steps_total: int, align_steps: int, user_steps: int) -> list[tuple[str, int]]:
    """[("align", K_align), ("user", K_user), ...] covering `user_steps_total` user steps."""
    out: list[tuple[str, int]] = []
    left = user_steps_total
    while left > 0:
        if align_steps:
            out.append(("align", align_steps))
        out.append(("user", min(user_steps, left)))
        left -= user_steps
    return out


def _cycled(n: int, seed: int) -> Iterator[int]:
    rng = random.Random(seed)
    while True:
        order = list(range(n))
        rng.shuffle(order)
        yield from order


def _merge(results: Sequence[TrainResult], examples: int, seconds: float) -> TrainResult:
    return TrainResult(steps=sum(r.steps for r in results), examples=examples, seconds=seconds,
                       tokens=sum(r.tokens for r in results),
                       losses=[x for r in results for x in r.losses],
                       reg_losses=[x for r in results for x in r.reg_losses])


@DEFENSES.register("lisa")
class Lisa(Defense):
    def __init__(self, align_steps: int = 2, user_steps: int = 18, rho: float = 1.0) -> None:
        if not isinstance(align_steps, int) or align_steps < 0 or not isinstance(user_steps, int) or user_steps < 1:
            raise ConfigError(f"defense 'lisa': align_steps must be >= 0 and user_steps >= 1 (integers), "
                              f"got {align_steps!r} and {user_steps!r}")
        if not isinstance(rho, (int, float)) or rho < 0:
            raise ConfigError(f"defense 'lisa': rho must be a number >= 0, got {rho!r}")
        self.align_steps, self.user_steps, self.rho = align_steps, user_steps, float(rho)
        self.alignment: list[Example] = []
        self.schedule: list[tuple[str, int]] = []  # the last run's states, for logs and tests

    def prepare(self, inputs: DefenseInputs) -> None:
        self.alignment = inputs.alignment_pairs()

    def finetune(self, model, tokenizer, examples, cfg, progress: Optional[Progress] = None):
        if self.align_steps and not self.alignment:
            raise DataError("defense 'lisa' has no alignment data (call prepare with the provider's data)")
        model = prepare_trainable(model, cfg)
        user = encode_examples(tokenizer, examples, cfg.max_length)
        align = encode_examples(tokenizer, self.alignment, cfg.max_length) if self.align_steps else []
        per_step = cfg.batch_size * cfg.grad_accum
        user_order = [i for batch in batch_plan(len(user), cfg) for i in batch]  # vanilla's order
        self.schedule = bistate_schedule(math.ceil(len(user_order) / per_step), self.align_steps, self.user_steps)
        align_order = _cycled(len(align), cfg.seed) if align else iter(())
        total = sum(steps for _, steps in self.schedule)
        results: list[TrainResult] = []
        start, used = time.perf_counter(), 0
        for i, (state, steps) in enumerate(self.schedule):
            if state == "user":
                data: list[Encoded] = [user[j] for j in user_order[used:used + steps * per_step]]
                used += steps * per_step
            else:
                data = [align[next(align_order)] for _ in range(steps * per_step)]
            state_cfg = cfg.model_copy(update={"max_steps": steps, "seed": cfg.seed + i,
                                               "warmup_steps": cfg.warmup_steps if i == 0 else 0})
            done = sum(r.steps for r in results)
            results.append(train(model, tokenizer, data, state_cfg,
                                 regularizer=Proximal(model, self.rho) if self.rho else None,
                                 progress=_offset(progress, done, total)))
        log.info("lisa: %d states (%d alignment, %d user steps)", len(self.schedule),
                 sum(s for k, s in self.schedule if k == "align"), sum(s for k, s in self.schedule if k == "user"))
        return model, _merge(results, len(user), time.perf_counter() - start)


def _offset(progress: Optional[Progress], done: int, total: int) -> Optional[Progress]:
    if progress is None:
        return None
    return lambda ev: progress(StepEvent(done + ev.step, total, ev.loss))
