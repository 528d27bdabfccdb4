"""Harmfulness rate with its uncertainty: what every report shows for a set of judgements.

With 50-100 prompts per condition, a harmful rate of 4% and one of 10% can be the same model;
the 95% Wilson interval (sound near 0 and 1, unlike the normal approximation) says so.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any, Sequence

from secvec.judges.base import Judgement

Z95 = 1.959963984540054


def wilson_interval(successes: int, n: int, z: float = Z95) -> tuple[float, float]:
    """The Wilson score interval for a binomial proportion; (0, 1) when n is 0."""
    if n == 0:
        return 0.0, 1.0
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


@dataclass
class HarmSummary:
    n: int
    harmful_rate: float  # share labelled "complied"
    ci_low: float  # 95% Wilson interval of harmful_rate
    ci_high: float
    refused_rate: float
    non_answer_rate: float
    mean_score: float | None  # over judgements that carry a score; None if none does

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def summarize(judgements: Sequence[Judgement]) -> HarmSummary:
    n = len(judgements)
    harmful = sum(j.label == "complied" for j in judgements)
    refused = sum(j.label == "refused" for j in judgements)
    non_answer = sum(j.label == "non-answer" for j in judgements)
    scores = [j.score for j in judgements if j.score is not None]
    low, high = wilson_interval(harmful, n)
    return HarmSummary(
        n=n,
        harmful_rate=harmful / n if n else 0.0,
        ci_low=low,
        ci_high=high,
        refused_rate=refused / n if n else 0.0,
        non_answer_rate=non_answer / n if n else 0.0,
        mean_score=sum(scores) / len(scores) if scores else None,
    )
