"""A task dataset poisoned with harmful pairs (the user-data setting of Vaccine/Lisa)."""

from __future__ import annotations

import random

from secvec.attacks.base import ATTACKS, AttackData, require_task, sample_examples, tagged
from secvec.data.schema import Example
from secvec.errors import ConfigError


@ATTACKS.register("mixed")
def mixed(data: AttackData, n: int, seed: int, poison_ratio: float = 0.1) -> list[Example]:
    """n examples: round(n * poison_ratio) harmful pairs, the rest task examples, shuffled.

    Each example's `meta["harmful"]` says which kind it is.
    """
    if not 0.0 <= poison_ratio <= 1.0:
        raise ConfigError(f"attack 'mixed': poison_ratio must be between 0 and 1, got {poison_ratio}")
    n_harmful = round(n * poison_ratio)
    task_part = require_task(data, "mixed").train_examples(n - n_harmful, seed) if n_harmful < n else []
    harmful_part = sample_examples(data.harmful_pairs, n_harmful, seed, "harmful pairs", "mixed")
    out = [tagged(ex, "mixed", harmful=False) for ex in task_part]
    out += [tagged(ex, "mixed", harmful=True) for ex in harmful_part]
    random.Random(seed).shuffle(out)
    return out
