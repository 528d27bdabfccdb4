"""What a defense is: how the service provider fine-tunes a user's data, by name.

A defense acts where the provider is in control: at alignment time (the model it deploys,
`deployed`) and at fine-tuning time (`finetune`). What it needs from the provider's own data
(refusal pairs, the alignment set, security vectors) it pulls once in `prepare` from a
`DefenseInputs`, so the recipe can build that data lazily from cached stages and a test can
hand it over directly (`StaticInputs`). Every defense returns the model as deployed after the
user's fine-tuning, so evaluation treats all defenses alike.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, Optional, Protocol, Sequence

import torch

from secvec.config import TrainConfig, VectorRecipe
from secvec.data.schema import Example, Prompt
from secvec.errors import DataError
from secvec.registry import Registry, call_with_options
from secvec.training.sft import Progress, TrainResult
from secvec.vectors.core import SecurityVectors


class DefenseInputs(Protocol):
    """The provider's data a defense may draw on; prompts are disjoint from evaluation."""

    def refusal_pairs(self) -> list[Example]:
        """Harmful prompt -> refusal."""
        ...

    def alignment_pairs(self) -> list[Example]:
        """What safety alignment trained on: refusal pairs plus the model's own benign answers."""
        ...

    def security_vectors(self, recipe: Optional[VectorRecipe] = None) -> SecurityVectors:
        """The provider's vectors, trained as `recipe` says (None: the default recipe)."""
        ...

    def vector_pairs(self) -> list[Example]:
        """The harmful pairs the vectors were trained on."""
        ...

    def benign_pairs(self) -> list[Example]:
        """The model's own benign answers (the vectors' KL data)."""
        ...

    def sensitive_pairs(self) -> list[Example]:
        """The unaligned model's answers to secvec's sensitive-topic prompts (an anchor's counterweight)."""
        ...

    def screen_prompts(self) -> tuple[list[Prompt], list[Prompt]]:
        """(harmful, benign) prompts to fit a harmful-request screen on."""
        ...

    def pre_alignment_model(self) -> Optional[str]:
        """The model before safety alignment (what `load_model` takes), where the provider has it."""
        ...


@dataclass
class StaticInputs:
    """`DefenseInputs` from values in hand (library use, tests)."""

    refusals: list[Example] = field(default_factory=list)
    benign: list[Example] = field(default_factory=list)
    vectors: Optional[SecurityVectors] = None
    harmful_pairs: list[Example] = field(default_factory=list)
    sensitive: list[Example] = field(default_factory=list)
    screen: tuple[list[Prompt], list[Prompt]] = field(default_factory=lambda: ([], []))
    before: Optional[str] = None

    def vector_pairs(self) -> list[Example]:
        return list(self.harmful_pairs)

    def benign_pairs(self) -> list[Example]:
        return list(self.benign)

    def sensitive_pairs(self) -> list[Example]:
        return list(self.sensitive)

    def screen_prompts(self) -> tuple[list[Prompt], list[Prompt]]:
        return self.screen

    def refusal_pairs(self) -> list[Example]:
        return list(self.refusals)

    def pre_alignment_model(self) -> Optional[str]:
        return self.before

    def alignment_pairs(self) -> list[Example]:
        return list(self.refusals) + list(self.benign)

    def security_vectors(self, recipe: Optional[VectorRecipe] = None) -> SecurityVectors:
        if self.vectors is None:
            raise DataError("this defense needs security vectors and none were given")
        return self.vectors


class Defense(ABC):
    """Base class; `name` and `options` are set by `build_defense` and identify the defense in caches."""

    name: str = ""
    options: dict[str, Any]

    def prepare(self, inputs: DefenseInputs) -> None:
        """Pull what the defense needs from the provider's data; called once before `finetune`."""

    def deployed(self, model: torch.nn.Module) -> torch.nn.Module:
        """The model the provider serves before any user fine-tuning (alignment-time defenses change it)."""
        return model

    @abstractmethod
    def finetune(self, model: torch.nn.Module, tokenizer, examples: Sequence[Example], cfg: TrainConfig,
                 progress: Optional[Progress] = None) -> tuple[torch.nn.Module, TrainResult]:
        """Fine-tune on the user's `examples` under the defense; returns the model as it would be served."""

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "options": dict(getattr(self, "options", {}))}


DEFENSES: Registry[type[Defense]] = Registry("defense")


def build_defense(name: str, **options: Any) -> Defense:
    """The defense registered as `name` with its options (unknown name or option: ConfigError)."""
    defense = call_with_options("defense", name, DEFENSES.get(name), **options)
    defense.name, defense.options = name, dict(options)
    return defense
