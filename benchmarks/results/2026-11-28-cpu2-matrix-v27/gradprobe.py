"""Gradient scale and direction of a job's loss: aligned model, vectors off vs the alignment delta on.

Why: AdamW's step is invariant to a uniform scale of the gradient, and clipping at norm 1 is a
normalisation too, so "low loss teaches little" holds only through the gradient's direction
(or through norms below the clip). This probe measures both, per data kind.
"""
import glob, math, random, sys, torch
from secvec.config import LLAMA_LINEAR
from secvec.data.loading import load_examples
from secvec.data.tokenize import encode_examples, collate
from secvec.models.loading import load_model
from secvec.training.sft import lm_loss
from secvec.vectors.delta import delta_from
from secvec.vectors.protect import vectors_on

torch.set_num_threads(1)
cache = sys.argv[1]
align = sorted(glob.glob(f"{cache}/stages/align-*/model"))[0]
synth = glob.glob(f"{cache}/stages/synthesize-*")[0]
lm = load_model(align)
model, tok = lm.model, lm.tokenizer
delta = delta_from(model, "smollm2-135m-instruct", 32, LLAMA_LINEAR)
for p in model.parameters():
    p.requires_grad_(True)
kinds = {k: load_examples(f"{synth}/{k}_pairs.jsonl") for k in ("attack", "benign", "borderline")}

def grads(examples, on):
    out = []
    rng = random.Random(0)
    ex = rng.sample(examples, 32)
    for i in range(0, 32, 8):
        batch = collate(encode_examples(tok, ex[i:i + 8], 128), tok.pad_token_id)
        with vectors_on(model, delta if on else None, exact=True) as m:
            loss = lm_loss(m, batch)
            loss.backward()
        g = torch.cat([p.grad.flatten() for p in model.parameters()])
        per = {n: p.grad.pow(2).mean().sqrt().item() for n, p in model.named_parameters()}
        out.append((loss.item(), g.norm().item(), g.clone(), per))
        model.zero_grad(set_to_none=True)
    return out

for kind, ex in kinds.items():
    off, on = grads(ex, False), grads(ex, True)
    mean = lambda xs: sum(xs) / len(xs)
    cos = mean([torch.nn.functional.cosine_similarity(a[2], b[2], dim=0).item() for a, b in zip(off, on)])
    goff = torch.stack([a[2] for a in off]).mean(0); gon = torch.stack([b[2] for b in on]).mean(0)
    ratios = sorted(mean([a[3][n] for a in off]) / max(mean([b[3][n] for b in on]), 1e-12) for n in off[0][3])
    print(f"{kind:10s} loss off {mean([a[0] for a in off]):.3f} on {mean([b[0] for b in on]):.3f} | "
          f"grad norm off {mean([a[1] for a in off]):.2f} on {mean([b[1] for b in on]):.2f} | "
          f"cos(batch off, on) {cos:.3f} cos(mean off, mean on) {torch.nn.functional.cosine_similarity(goff, gon, dim=0).item():.3f} | "
          f"per-tensor RMS off/on median {ratios[len(ratios)//2]:.2f} (p10 {ratios[len(ratios)//10]:.2f}, p90 {ratios[9*len(ratios)//10]:.2f})", flush=True)
