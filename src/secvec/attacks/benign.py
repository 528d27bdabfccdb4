"""Benign fine-tuning on a task: no harmful data, yet it erodes shallow alignment."""

from __future__ import annotations

from secvec.attacks.base import ATTACKS, AttackData, require_task, tagged
from secvec.data.schema import Example


@ATTACKS.register("benign")
def benign(data: AttackData, n: int, seed: int) -> list[Example]:
    task = require_task(data, "benign")
    return [tagged(ex, "benign") for ex in task.train_examples(n, seed)]
