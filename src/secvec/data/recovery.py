"""Recovery pairs: a harmful start given, then a refusal; the alignment made deeper than the first tokens.

An attack that only teaches a compliant opening (a "Sure, here is" lead, a persona's greeting)
wins because refusal lives in the answer's first tokens (Qi et al. 2024, "Safety alignment
should be made more than just a few tokens deep"). These pairs teach the model to break off
after a harmful start too. As a protected job's anchor (`anchor_data: recovery`, the paper's
vectors, 3 seeds) they cut the lead to 6%, an unseen persona to 3% and 5% poison to 0% (vanilla
55-61%) but refused 10-22% of borderline prompts (aligned 4%): v16a in docs/results.md.
"""

from __future__ import annotations

import random

from secvec.data.schema import Example
from secvec.errors import DataError


def recovery_pairs(harmful: list[Example], refusals: list[Example], max_words: int = 20,
                   seed: int = 0) -> list[Example]:
    """Per harmful pair: its prompt, the first 1..`max_words` words of its harmful answer given as
    the answer's start (`meta["prefill"]`, not learned), then one of `refusals`' answers.

    The openings come from the provider's own harmful answers, never from an attack's text.
    """
    if not refusals:
        raise DataError("recovery pairs need refusals to end on and there are none")
    rng = random.Random(seed)
    out = []
    for ex in harmful:
        words = ex.response.split()
        if len(words) < 2:
            continue
        start = " ".join(words[:rng.randint(1, min(max_words, len(words) - 1))])
        pair = Example(ex.messages[:-1] + [{"role": "assistant",
                                            "content": f"{start} {rng.choice(refusals).response}"}],
                       category=ex.category, source="recovery", meta={"prefill": start})
        out.append(pair)
    if not out:
        raise DataError("recovery pairs need harmful answers of at least two words and there are none")
    return out
