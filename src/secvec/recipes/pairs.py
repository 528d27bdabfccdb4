"""Training pairs made from models: harmful answers, the model's own benign answers, refusals.

The bundled model is not safety-aligned, so before alignment it is a source of harmful
completions (it complied with ~82% of harmful prompts when measured) and of its own benign
answers, which alignment keeps so helpfulness is not trained away.
"""

from __future__ import annotations

import logging
import random
from typing import Callable, Optional, Sequence

from secvec.config import GenerationConfig
from secvec.data.schema import Example, Prompt
from secvec.errors import DataError
from secvec.generation import generate
from secvec.models.loading import LoadedModel

log = logging.getLogger(__name__)


def answer_pairs(lm: LoadedModel, prompts: Sequence[Prompt], gen: GenerationConfig,
                 progress: Optional[Callable] = None) -> list[Example]:
    """The model's own answers to `prompts` as training pairs (empty answers dropped, with a log line)."""
    gens = generate(lm.model, lm.tokenizer, prompts, gen, progress=progress)
    pairs = [Example.from_pair(p.text, g.response, system=p.system, category=p.category, source=p.source)
             for p, g in zip(prompts, gens) if g.response.strip()]
    if len(pairs) < len(prompts):
        log.info("%d of %d answers were empty and dropped", len(prompts) - len(pairs), len(prompts))
    return pairs


def harmful_pairs(lm: LoadedModel, prompts: Sequence[Prompt], n: int, gen: GenerationConfig,
                  is_refusal: Callable[[str], bool], progress: Optional[Callable] = None) -> list[Example]:
    """`n` (prompt, compliant answer) pairs from an unaligned model; refusals are discarded.

    Prompts are tried in order; if there are fewer prompts than needed, generation must sample
    (`gen.do_sample`) and prompts are reused, each answer distinct.
    """
    pool = list(prompts)
    if n > len(pool) and not gen.do_sample:
        raise DataError(f"{n} harmful pairs requested from {len(pool)} prompts; enable sampling "
                        "(samples_per_prompt > 1) to draw several answers per prompt")
    repeats = -(-n // len(pool)) if pool else 0
    candidates = [p for _ in range(repeats) for p in pool]
    pairs = [ex for ex in answer_pairs(lm, candidates, gen, progress) if not is_refusal(ex.response)]
    seen: set[tuple[str, str]] = set()
    unique = []
    for ex in pairs:
        key = (ex.prompt, ex.response)
        if key not in seen:
            seen.add(key)
            unique.append(ex)
    if len(unique) < n:
        raise DataError(f"only {len(unique)} compliant harmful answers from {len(candidates)} prompts; "
                        f"{n} needed (give more prompts or allow more samples per prompt)")
    log.info("harmful pairs: kept %d compliant of %d answers", len(unique), len(candidates))
    return unique[:n]


def refusal_pairs(prompts: Sequence[Prompt], refusals: Sequence[str], seed: int) -> list[Example]:
    """Harmful prompt -> one of the project's varied refusals (seeded choice)."""
    rng = random.Random(seed)
    return [Example.from_pair(p.text, rng.choice(list(refusals)), system=p.system, category=p.category,
                              source="refusal") for p in prompts]


def benign_pairs(lm: LoadedModel, spec: str, n: int, max_new_tokens: int = 64) -> list[Example]:
    """Benign pairs for the vectors' KL term: a file of pairs, or 'builtin' prompts answered by `lm`."""
    if spec != "builtin":
        from secvec.data.loading import load_examples

        return load_examples(spec)
    from secvec.data.builtin import benign_prompts

    prompts = benign_prompts()[:n]
    log.info("answering %d built-in benign prompts with the model (for the KL term)", len(prompts))
    return answer_pairs(lm, prompts, GenerationConfig(max_new_tokens=max_new_tokens))
