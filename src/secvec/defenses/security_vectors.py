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
    """`recipe` (styles, vectors overrides; see `VectorRecipe`) picks which vectors the provider trains."""

    def __init__(self, method: Literal["merge", "active"] = "merge", recipe: Optional[dict[str, Any]] = None) -> None:
        if method not in ("merge", "active"):
            raise ConfigError(f"defense {self.name or 'security-vectors'!r}: method must be merge or active, "
                              f"got {method!r}")
        self.method = method
        self.recipe = parse_recipe(recipe)
        self.vectors: Optional[SecurityVectors] = None

    def prepare(self, inputs: DefenseInputs) -> None:
        self.vectors = inputs.security_vectors(self.recipe)

    def finetune(self, model, tokenizer, examples, cfg, progress=None):
        if self.vectors is None:
            raise RuntimeError("security-vectors defense used before prepare()")
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
