"""The direct attack: fine-tune on harmful (prompt, harmful answer) pairs."""

from __future__ import annotations

from secvec.attacks.base import ATTACKS, AttackData, sample_examples, tagged
from secvec.data.schema import Example


@ATTACKS.register("harmful")
def harmful(data: AttackData, n: int, seed: int) -> list[Example]:
    return [tagged(ex, "harmful") for ex in sample_examples(data.harmful_pairs, n, seed, "harmful pairs", "harmful")]
