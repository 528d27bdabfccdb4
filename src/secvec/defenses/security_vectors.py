"""Security vectors: on and frozen while the user's data trains, off in the served model."""

from __future__ import annotations

from typing import Any, Literal, Optional

from pydantic import ValidationError

from secvec.config import VectorRecipe, VectorsConfig
from secvec.defenses.base import DEFENSES, Defense, DefenseInputs
from secvec.errors import ConfigError
from secvec.vectors.core import SecurityVectors
from secvec.vectors.protect import protected_finetune


@DEFENSES.register("security-vectors")
class SecurityVectorsDefense(Defense):
    """`recipe` (styles, vectors overrides; see `VectorRecipe`) picks which vectors the provider trains.

    `replay` (beyond the paper): the provider's own benign answers (the alignment set's helpful
    half), `replay` per user example, join the job. Why: on an aligned model that answers safe
    prompts, a protected harmful job left the model (vectors off) refusing 38% of borderline
    prompts; the replayed answers pin the benign behaviour the job would otherwise drift from.
    """

    def __init__(self, method: Literal["merge", "active"] = "merge", recipe: Optional[dict[str, Any]] = None,
                 replay: float = 0.0) -> None:
        if method not in ("merge", "active"):
            raise ConfigError(f"defense {self.name or 'security-vectors'!r}: method must be merge or active, "
                              f"got {method!r}")
        if not isinstance(replay, (int, float)) or replay < 0:
            raise ConfigError(f"defense 'security-vectors': replay must be a number >= 0, got {replay!r}")
        self.method = method
        self.recipe = parse_recipe(recipe)
        self.replay = float(replay)
        self.vectors: Optional[SecurityVectors] = None
        self.benign: list = []

    def prepare(self, inputs: DefenseInputs) -> None:
        self.vectors = inputs.security_vectors(self.recipe)
        if self.replay:
            self.benign = inputs.benign_pairs()

    def finetune(self, model, tokenizer, examples, cfg, progress=None):
        from secvec.defenses.safety_mix import mix_in

        if self.vectors is None:
            raise RuntimeError("security-vectors defense used before prepare()")
        if self.replay:
            examples = mix_in(examples, self.benign, self.replay, cfg.seed,
                              "defense 'security-vectors' has no benign answers to replay")
        return protected_finetune(model, tokenizer, examples, cfg, self.vectors, self.method, progress=progress)


def parse_recipe(recipe: Optional[dict[str, Any]]) -> Optional[VectorRecipe]:
    """The recipe option as a validated `VectorRecipe` (None: the provider's default vectors)."""
    if not recipe:
        return None
    try:
        parsed = VectorRecipe.model_validate(recipe)
    except ValidationError as e:
        err = e.errors()[0]
        raise ConfigError(f"vector recipe: {'.'.join(str(x) for x in err['loc'])}: {err['msg']}") from None
    from secvec.data.styles import restyle

    for style in parsed.styles:  # an unknown style or an attack persona fails when the config loads
        restyle([], style, 0)
    parsed.apply(VectorsConfig())
    return parsed
