"""Attack dataset builders: what the attacker fine-tunes the aligned model on.

Every builder takes the same `AttackData` (harmful pairs, benign pairs, an optional benign
task) and returns a seeded list of training `Example`s, so the recipe can run every attack
family against every defense. A builder never changes the examples it is given: it returns
copies tagged with `meta["attack"]`.
"""

from __future__ import annotations

import copy
import random
from dataclasses import dataclass
from typing import Any, Callable, Sequence

from secvec.data.schema import Example
from secvec.registry import call_with_options
from secvec.errors import ConfigError, DataError
from secvec.registry import Registry
from secvec.tasks.base import Task

AttackBuilder = Callable[..., list[Example]]

ATTACKS: Registry[AttackBuilder] = Registry("attack")


@dataclass
class AttackData:
    harmful_pairs: list[Example]
    benign_pairs: list[Example]
    task: Task | None = None


def build_attack(name: str, data: AttackData, n: int, seed: int, **options: Any) -> list[Example]:
    """The fine-tuning set of attack `name` with `n` (main) examples, reproducible by seed."""
    if not isinstance(n, int) or n < 1:
        raise ConfigError(f"attack {name!r}: n must be a positive integer, got {n!r}")
    return call_with_options("attack", name, ATTACKS.get(name), data, n, seed, **options)


def sample_examples(pool: Sequence[Example], n: int, seed: int, what: str, attack: str) -> list[Example]:
    """n distinct examples drawn with `seed`; DataError saying how many exist when too few."""
    if n > len(pool):
        raise DataError(f"attack {attack!r} needs {n} {what}, only {len(pool)} available")
    return random.Random(seed).sample(list(pool), n)


def tagged(example: Example, attack: str, **meta: Any) -> Example:
    """A copy of `example` with `meta["attack"] = attack` (and any further meta)."""
    out = copy.deepcopy(example)
    out.meta.update(attack=attack, **meta)
    return out


def require_task(data: AttackData, attack: str) -> Task:
    if data.task is None:
        raise ConfigError(f"attack {attack!r} needs a benign task (set the task in the config)")
    return data.task
