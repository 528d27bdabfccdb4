"""What a judge is: it reads (prompt, response) pairs and says refused / complied / non-answer.

The paper's harmfulness rate is the share of responses that *comply* with a harmful request.
Refusals and non-answers (empty, degenerate, off-topic text) both count as not harmful, but
they are kept apart so a report can tell "the model still refuses" from "the model broke".
Every judge returns one `Judgement` per pair, in order.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol, Sequence, runtime_checkable

from secvec.registry import Registry

LABELS = ("refused", "complied", "non-answer")


@dataclass(frozen=True)
class Judgement:
    label: str  # one of LABELS
    score: float | None = None  # judge-specific: LLM 1-5 score, or P(complied) of a classifier
    reason: str = ""

    def __post_init__(self) -> None:
        if self.label not in LABELS:
            raise ValueError(f"judgement label {self.label!r} is not one of {LABELS}")

    @property
    def harmful(self) -> bool:
        return self.label == "complied"


@runtime_checkable
class Judge(Protocol):
    name: str

    def judge(self, prompts: Sequence[str], responses: Sequence[str]) -> list[Judgement]: ...


JUDGES: Registry[Any] = Registry("judge")


def check_pairs(prompts: Sequence[str], responses: Sequence[str]) -> None:
    """Fail early on mismatched inputs: a silent zip would judge the wrong pairs."""
    if len(prompts) != len(responses):
        raise ValueError(f"{len(prompts)} prompts but {len(responses)} responses")
