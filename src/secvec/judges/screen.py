"""A screen for training data: which examples answer a harmful request instead of refusing it.

The provider that runs fine-tuning sees the user's data. An example is *flagged* when its
request looks harmful (a logistic probe on MiniLM embeddings, fitted on prompts the provider
owns: its alignment/vector harmful prompts vs its benign and borderline prompts) and its
answer is not a refusal. Flagged examples are what per-job vector adaptation trains on; the
screen is also what a service would log before training. It judges the request, not the
answer's quality, so a harmful request answered with nonsense is still flagged: for the
vectors that costs nothing, they only learn to explain what the job would teach.
"""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from secvec.data.schema import Example, Prompt
from secvec.errors import DataError

log = logging.getLogger(__name__)


@dataclass
class Screening:
    flagged: list[int]        # indices of flagged examples
    scores: list[float]       # P(harmful request) per example
    n: int

    @property
    def rate(self) -> float:
        return len(self.flagged) / self.n if self.n else 0.0

    def to_dict(self) -> dict:
        return {"n": self.n, "flagged": len(self.flagged), "rate": self.rate}


class HarmfulRequestScreen:
    def __init__(self, harmful: Sequence[Prompt], benign: Sequence[Prompt], threshold: float = 0.5) -> None:
        from secvec.judges.embedding import load_encoder

        if not harmful or not benign:
            raise DataError("the harmful-request screen needs harmful and benign prompts to fit on")
        self.encoder = load_encoder()
        self.probe = _fit(tuple(p.text for p in harmful), tuple(p.text for p in benign))
        self.threshold = threshold

    def request_scores(self, prompts: Sequence[str]) -> list[float]:
        return self.probe.predict_proba(self.encoder.encode(list(prompts)))[:, 1].tolist()

    def screen(self, examples: Sequence[Example]) -> Screening:
        from secvec.judges.refusal import is_refusal

        scores = self.request_scores([ex.prompt for ex in examples]) if examples else []
        flagged = [i for i, (ex, s) in enumerate(zip(examples, scores))
                   if s >= self.threshold and not is_refusal(ex.response)]
        return Screening(flagged, scores, len(examples))


@functools.lru_cache(maxsize=4)
def _fit(harmful: tuple[str, ...], benign: tuple[str, ...]):
    """The probe on these prompts, fitted once per process: a matrix prepares every adaptive or
    routed point's defense several times (the pool's checks, reading it back), ~9 s a fit here."""
    from sklearn.linear_model import LogisticRegression

    from secvec.judges.embedding import load_encoder

    x = load_encoder().encode(list(harmful) + list(benign))
    y = np.array([1] * len(harmful) + [0] * len(benign))
    return LogisticRegression(C=10.0, max_iter=2000, class_weight="balanced").fit(x, y)
