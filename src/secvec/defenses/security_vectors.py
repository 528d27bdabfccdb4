"""Security vectors: on and frozen while the user's data trains, off in the served model."""

from __future__ import annotations

from typing import Literal, Optional

from secvec.defenses.base import DEFENSES, Defense, DefenseInputs
from secvec.errors import ConfigError
from secvec.vectors.core import SecurityVectors
from secvec.vectors.protect import protected_finetune


@DEFENSES.register("security-vectors")
class SecurityVectorsDefense(Defense):
    def __init__(self, method: Literal["merge", "active"] = "merge") -> None:
        if method not in ("merge", "active"):
            raise ConfigError(f"defense 'security-vectors': method must be merge or active, got {method!r}")
        self.method = method
        self.vectors: Optional[SecurityVectors] = None

    def prepare(self, inputs: DefenseInputs) -> None:
        self.vectors = inputs.security_vectors()

    def finetune(self, model, tokenizer, examples, cfg, progress=None):
        if self.vectors is None:
            raise RuntimeError("security-vectors defense used before prepare()")
        return protected_finetune(model, tokenizer, examples, cfg, self.vectors, self.method, progress=progress)
