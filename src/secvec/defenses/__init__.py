"""Defenses by name: `build_defense("security-vectors")`, then `prepare(inputs)` and `finetune(...)`.

- `none`: vanilla fine-tuning (the baseline).
- `safety-mix`: refusal examples mixed into the user's data (Qi et al. 2023).
- `security-vectors`: the vectors on and frozen during fine-tuning, off afterwards (this project).
- `adaptive-vectors`: the vectors adapted per job to the examples a screen flags (beyond the paper).
- `delta-vectors`: vectors that undo the whole safety alignment (its SVD), from the pre-alignment weights.
- `routed-vectors`: per job, the delta, adapted vectors or the provider's, by what the screen finds.
- `lisa`: alternating alignment / user steps with a proximal term (Huang et al. 2024).

A new defense is one module here that registers a `Defense` subclass on `DEFENSES`, plus one
import line below.
"""

from secvec.defenses.base import DEFENSES, Defense, DefenseInputs, StaticInputs, build_defense

from secvec.defenses import (adaptive_vectors, delta_vectors, lisa, none, routed_vectors, safety_mix,  # noqa: F401,E402
                             security_vectors)  # (register)

__all__ = ["DEFENSES", "Defense", "DefenseInputs", "StaticInputs", "build_defense", "available_defenses"]


def available_defenses() -> list[str]:
    return DEFENSES.names()
