"""Safety data mixed into the user's data (the mitigation Qi et al. 2023 tried first).

The provider adds harmful prompt -> refusal pairs to whatever the user uploads, so each
fine-tuning step also rehearses refusing. `ratio` is refusal examples per user example
(0.1: one per ten); every user example is kept. When more refusals are needed than the
provider has, its pool is cycled in a seeded order, so repeats are spread evenly.
"""

from __future__ import annotations

import random
from typing import Sequence

from secvec.data.schema import Example
from secvec.defenses.base import DEFENSES, Defense, DefenseInputs
from secvec.errors import ConfigError, DataError
from secvec.vectors.protect import protected_finetune


def mix_refusals(user: Sequence[Example], refusals: Sequence[Example], ratio: float, seed: int) -> list[Example]:
    """The user's examples plus round(ratio * len(user)) refusal examples, shuffled with `seed`."""
    n = round(ratio * len(user))
    if n and not refusals:
        raise DataError("defense 'safety-mix' has no refusal examples to mix in")
    rng = random.Random(seed)
    chosen: list[Example] = []
    while len(chosen) < n:
        pool = list(refusals)
        rng.shuffle(pool)
        chosen += pool[: n - len(chosen)]
    mixed = list(user) + chosen
    rng.shuffle(mixed)
    return mixed


@DEFENSES.register("safety-mix")
class SafetyMix(Defense):
    def __init__(self, ratio: float = 0.1) -> None:
        if not isinstance(ratio, (int, float)) or ratio < 0:
            raise ConfigError(f"defense 'safety-mix': ratio must be a number >= 0, got {ratio!r}")
        self.ratio = float(ratio)
        self.refusals: list[Example] = []

    def prepare(self, inputs: DefenseInputs) -> None:
        self.refusals = inputs.refusal_pairs()

    def finetune(self, model, tokenizer, examples, cfg, progress=None):
        mixed = mix_refusals(examples, self.refusals, self.ratio, cfg.seed)
        return protected_finetune(model, tokenizer, mixed, cfg, None, progress=progress)
