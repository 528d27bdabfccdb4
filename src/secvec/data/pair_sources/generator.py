"""`generator`: the experiment's synthesized attack pairs (the unaligned bundled model's answers).

The vectors are trained on pairs from the same generator (other prompts), so a cell with this
source tests the attack the vectors were made for, not generalization. `samples_per_prompt > 1`
draws that many sampled answers (temperature 0.8) per attack prompt instead, for attacks
larger than the synthesized set (the paper's 1,000 samples); they are cached in
`ctx.cache_dir`, so the aligned model and the vectors, which do not depend on them, are reused.
"""

from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path

from secvec.data.pair_sources.base import PAIR_SOURCES, PairContext, cached_pairs
from secvec.data.schema import Example
from secvec.errors import ConfigError, DataError

log = logging.getLogger(__name__)


@PAIR_SOURCES.register("generator")
def generator(ctx: PairContext, samples_per_prompt: int = 1, max_new_tokens: int = 40) -> list[Example]:
    if samples_per_prompt < 1:
        raise ConfigError(f"pair source 'generator': samples_per_prompt must be >= 1, got {samples_per_prompt}")
    if samples_per_prompt == 1:
        return list(ctx.generator_pairs())
    from secvec.config import GenerationConfig
    from secvec.judges import is_refusal
    from secvec.models.loading import load_model
    from secvec.recipes.pairs import answer_pairs

    if not ctx.prompts or not ctx.base_model:
        raise DataError("pair source 'generator' needs attack prompts and the base model to sample more answers")
    key = json.dumps({"prompts": [p.text for p in ctx.prompts], "k": samples_per_prompt, "t": max_new_tokens,
                      "model": ctx.base_model, "seed": ctx.seed})
    path = Path(ctx.cache_dir) / f"generator-{hashlib.sha256(key.encode()).hexdigest()[:16]}.jsonl" \
        if ctx.cache_dir is not None else None

    def compute() -> list[Example]:
        lm = load_model(ctx.base_model)
        gen = GenerationConfig(max_new_tokens=max_new_tokens, batch_size=48, do_sample=True, temperature=0.8,
                               seed=ctx.seed, precision="auto")
        with ctx.progress("generator: sampled attack answers") as p:
            answers = answer_pairs(lm, [q for _ in range(samples_per_prompt) for q in ctx.prompts], gen, p)
        seen: set[tuple[str, str]] = set()
        pairs = []
        for ex in answers:
            if not is_refusal(ex.response) and (ex.prompt, ex.response) not in seen:
                seen.add((ex.prompt, ex.response))
                pairs.append(ex)
        log.info("generator: %d distinct compliant answers of %d sampled", len(pairs), len(answers))
        return pairs

    return cached_pairs(path, compute)
