"""Evaluation generation: batched vs one prompt at a time, and fp32 vs bf16.

Greedy decoding, the same prompts and `max_new_tokens` in every variant; throughput counts the
answer tokens actually produced (up to EOS), so a batch that runs on past one member's EOS
is charged for it. Peak memory is the process RSS sampled every 50 ms (`secvec.memory`), and
on CUDA also torch's peak allocation; RSS includes the loaded model, so the rise over the RSS
at the start of the run is reported too.
"""

from __future__ import annotations

import time
from typing import Callable, Iterable

import psutil
import torch
from bench_setup import Bench, padded_tokens

from secvec.config import GenerationConfig
from secvec.generation import generate
from secvec.memory import peak_rss
from secvec.models.chat import prompt_text


def run_generation(bench: Bench, prompts: list, max_new_tokens: int, batch_size: int, precision: str) -> dict:
    model = bench.restore()
    cfg = GenerationConfig(max_new_tokens=max_new_tokens, batch_size=batch_size, precision=precision)
    if bench.device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(bench.device)
    start_rss = psutil.Process().memory_info().rss / 2**20
    with peak_rss() as peak:
        start = time.perf_counter()
        gens = generate(model, bench.tokenizer, prompts, cfg)
        if bench.device.type == "cuda":
            torch.cuda.synchronize()
        seconds = time.perf_counter() - start
    new = sum(g.response_tokens for g in gens)
    rec = {"batch_size": batch_size, "precision": precision, "seconds": seconds, "new_tokens": new,
           "new_tokens_per_second": new / seconds, "peak_rss_mb": peak.rss_mb, "start_rss_mb": start_rss,
           "peak_rss_rise_mb": peak.rss_mb - start_rss, "responses": [g.response for g in gens]}
    if bench.device.type == "cuda":
        rec["peak_cuda_mb"] = torch.cuda.max_memory_allocated(bench.device) / 2**20
    return rec


def run_generation_variants(bench: Bench, variants: Iterable[tuple[int, str]], n_prompts: int,
                            max_new_tokens: int, rounds: int, note: Callable[[str], None] = print) -> dict[str, dict]:
    """(batch_size, precision) variants, round-robin; the fastest run of each is its figure."""
    prompts = bench.prompts[:n_prompts]
    variants = list(dict.fromkeys(variants))
    out: dict[str, dict] = {}
    for r in range(rounds):
        for bs, precision in variants[r % len(variants):] + variants[:r % len(variants)]:
            rec = run_generation(bench, prompts, max_new_tokens, bs, precision)
            key = f"batch{bs}/{precision}"
            out.setdefault(key, {"batch_size": bs, "precision": precision, "runs": []})["runs"].append(rec)
            note(f"  generate {key:<16} round {r + 1}/{rounds}: {rec['seconds']:.2f} s, "
                 f"{rec['new_tokens_per_second']:.1f} new tok/s")
    for rec in out.values():
        best = min(rec["runs"], key=lambda x: x["seconds"])
        rec.update({k: best[k] for k in ("seconds", "new_tokens", "new_tokens_per_second")})
        rec["peak_rss_mb"] = max(x["peak_rss_mb"] for x in rec["runs"])
        rec["peak_rss_rise_mb"] = max(x["peak_rss_rise_mb"] for x in rec["runs"])
        if "peak_cuda_mb" in best:
            rec["peak_cuda_mb"] = max(x["peak_cuda_mb"] for x in rec["runs"])
        rec["all_seconds"] = [x["seconds"] for x in rec["runs"]]
    return out


def same_answers(a: dict, b: dict) -> float:
    """Share of prompts answered identically by two variants (batching/bf16 may change argmax ties)."""
    ra, rb = a["runs"][0]["responses"], b["runs"][0]["responses"]
    return sum(x == y for x, y in zip(ra, rb)) / len(ra)


def padding_table(bench: Bench, n_prompts: int, batch_sizes: Iterable[int]) -> dict:
    """Pad tokens per batch size with secvec's length sort vs the prompts' own order."""
    lengths = [len(bench.tokenizer(prompt_text(bench.tokenizer, p), add_special_tokens=False)["input_ids"])
               for p in bench.prompts[:n_prompts]]
    rows = {}
    for bs in sorted(set(b for b in batch_sizes if b > 1)):
        unsorted, sorted_ = padded_tokens(lengths, bs, sort=False), padded_tokens(lengths, bs, sort=True)
        rows[str(bs)] = {"padded_unsorted": unsorted, "padded_sorted": sorted_,
                         "saved_fraction": (unsorted - sorted_) / unsorted if unsorted else 0.0}
    return {"prompt_tokens": sum(lengths), "prompts": len(lengths), "by_batch_size": rows}


def strip_responses(variants: dict[str, dict]) -> dict[str, dict]:
    """Keep the JSON small: answers are compared in memory, not stored."""
    return {k: {**v, "runs": [{x: y for x, y in run.items() if x != "responses"} for run in v["runs"]]}
            for k, v in variants.items()}


def generation_section(results: dict[str, dict], bench: Bench, n_prompts: int, max_new_tokens: int,
                       batch_size: int) -> dict:
    p = bench.precision
    batched, single = results[f"batch{batch_size}/{p}"], results[f"batch1/{p}"]
    speedup = single["seconds"] / batched["seconds"]
    return {
        "prompts": n_prompts, "max_new_tokens": max_new_tokens, "batch_size": batch_size, "precision": p,
        "variants": strip_responses({k: results[k] for k in (f"batch{batch_size}/{p}", f"batch1/{p}")}),
        "speedup": {"ratio": speedup, "goal": 4.0, "goal_met": speedup >= 4.0},
        "same_answers_batched_vs_single": same_answers(batched, single),
        "padding": padding_table(bench, n_prompts, (batch_size, 16, 8)),
    }


def precision_generation_section(results: dict[str, dict], batch_size: int) -> dict:
    fp32, bf16 = results[f"batch{batch_size}/fp32"], results[f"batch{batch_size}/bf16"]
    return {"batch_size": batch_size,
            "variants": strip_responses({f"batch{batch_size}/fp32": fp32, f"batch{batch_size}/bf16": bf16}),
            "ratio": {"numerator": "bf16", "denominator": "fp32", "ratio": bf16["seconds"] / fp32["seconds"]},
            "same_answers_bf16_vs_fp32": same_answers(bf16, fp32)}
