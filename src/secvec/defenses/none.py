"""No defense: the provider fine-tunes the user's data as given (the vanilla baseline)."""

from __future__ import annotations

from secvec.defenses.base import DEFENSES, Defense
from secvec.vectors.protect import protected_finetune


@DEFENSES.register("none")
class NoDefense(Defense):
    def finetune(self, model, tokenizer, examples, cfg, progress=None):
        return protected_finetune(model, tokenizer, examples, cfg, None, progress=progress)
