"""Security vectors taken from the safety alignment itself: the rank-r SVD of (before - aligned).

Trained vectors explain the harmful pairs they were trained on; this delta makes the aligned
model answer harmful requests about as the unaligned one did, whoever wrote the data (see
`defenses/delta_vectors.py` for what was measured). It needs the weights from before alignment,
which the provider that aligned the model has. The result is an ordinary `SecurityVectors`
(a PEFT LoRA adapter), so every path that takes vectors takes it.
"""

from __future__ import annotations

import torch

from secvec.errors import ConfigError
from secvec.vectors.core import SecurityVectors, _jsonable, base_model_of, model_fingerprint


def alignment_delta(aligned: torch.nn.Module, before: torch.nn.Module, rank: int,
                    target_modules: list[str]) -> SecurityVectors:
    """Vectors whose delta is the best rank-`rank` approximation of (before - aligned) per target Linear."""
    from peft import LoraConfig

    mine = dict(base_model_of(aligned).named_modules())
    theirs = dict(base_model_of(before).named_modules())
    pairs = {}
    for name, mod in mine.items():
        if name.rsplit(".", 1)[-1] not in target_modules or not isinstance(mod, torch.nn.Linear):
            continue
        other = theirs.get(name)
        if other is None or other.weight.shape != mod.weight.shape:
            raise ConfigError(f"the model before alignment does not match the aligned one at {name!r}")
        pairs[name] = (other.weight, mod.weight)
    if not pairs:
        raise ConfigError(f"no Linear layer named {target_modules} in the model: no alignment delta to take")
    # One rank for all modules (a plain PEFT adapter): a module with fewer singular values gets zero columns.
    rank = min(rank, max(min(w.shape) for _, w in pairs.values()))
    lora_a, lora_b = {}, {}
    for name, (theirs_w, mine_w) in pairs.items():
        with torch.no_grad():
            u, s, vh = torch.linalg.svd(theirs_w.float().to(mine_w.device) - mine_w.float(), full_matrices=False)
        k = min(rank, s.numel())
        lora_b[name] = torch.zeros(u.shape[0], rank)
        lora_a[name] = torch.zeros(rank, vh.shape[1])
        lora_b[name][:, :k], lora_a[name][:k] = u[:, :k] * s[:k], vh[:k]
    config = LoraConfig(r=rank, lora_alpha=rank, target_modules=sorted(target_modules), task_type="CAUSAL_LM")
    meta = {"kind": "alignment-delta", "rank": rank, "base_fingerprint": model_fingerprint(aligned)}
    return SecurityVectors(lora_a, lora_b, 1.0, _jsonable(config.to_dict()), meta)


def delta_from(aligned: torch.nn.Module, before: str, rank: int, target_modules: list[str]) -> SecurityVectors:
    """`alignment_delta` against the pre-alignment model named `before` (what `load_model` takes)."""
    from secvec.models.loading import load_model

    return alignment_delta(aligned, load_model(before).model, rank, target_modules)
