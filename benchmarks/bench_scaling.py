"""How a vanilla full fine-tuning step grows with sequence length and batch size, and with model size.

Each cell trains on sequences of exactly `length` tokens (the workload's tokens, concatenated
and cut), so tokens per step is `batch × length` with no padding. The model-size note uses the
usual estimate of ≈ 6·N FLOPs per trained token (forward 2·N, backward 4·N; attention's
sequence-length term is left out, small at these lengths) and the FLOP rate measured here.
"""

from __future__ import annotations

from typing import Callable, Iterable

from bench_setup import Bench, StepClock, median

from secvec.config import TrainConfig
from secvec.data.tokenize import Encoded
from secvec.vectors import protected_finetune

# Sizes the note extrapolates to, and fp32 AdamW full fine-tuning memory per parameter:
# weight 4 + grad 4 + two moments 8 bytes (activations not included).
TARGET_PARAMS = {"1B": 1e9, "7B": 7e9}
FULL_FT_BYTES_PER_PARAM = 16


def fixed_length(bench: Bench, length: int, count: int) -> list[Encoded]:
    stream = [t for e in bench.encode(512) for t in e.input_ids]
    while len(stream) < length * count:
        stream += stream
    return [Encoded(stream[i * length:(i + 1) * length], stream[i * length:(i + 1) * length]) for i in range(count)]


def run_cell(bench: Bench, length: int, batch_size: int, warmup: int, steps: int) -> dict:
    data = fixed_length(bench, length, batch_size * (warmup + steps))
    cfg = TrainConfig(mode="full", lr=2e-5, max_steps=warmup + steps, batch_size=batch_size, max_length=length,
                      precision=bench.precision)
    clock = StepClock(bench.device)
    model = bench.restore()
    clock.start()
    protected_finetune(model, bench.tokenizer, data, cfg, None, progress=clock)  # type: ignore[arg-type]
    secs = clock.durations()[warmup:]
    s = median(secs)
    tokens = batch_size * length
    flops = 6 * bench.n_params * tokens
    return {"seq_length": length, "batch_size": batch_size, "tokens_per_step": tokens, "step_seconds": secs,
            "median_s_per_step": s, "tokens_per_second": tokens / s, "gflops_per_second": flops / s / 1e9}


def scaling_section(bench: Bench, lengths: Iterable[int], batch_sizes: Iterable[int], base_length: int,
                    base_batch: int, warmup: int, steps: int, note: Callable[[str], None] = print) -> dict:
    """Lengths at `base_batch`, batch sizes at `base_length`: a cross, not the full grid (cost)."""
    cells = [(L, base_batch) for L in lengths] + [(base_length, B) for B in batch_sizes]
    rows = []
    for L, B in dict.fromkeys(cells):
        row = run_cell(bench, L, B, warmup, steps)
        note(f"  scaling seq {L:>4} batch {B:>3}: {row['median_s_per_step']:.3f} s/step, "
             f"{row['tokens_per_second']:.0f} tok/s, {row['gflops_per_second']:.1f} GFLOP/s")
        rows.append(row)
    best = max(r["gflops_per_second"] for r in rows)
    return {"precision": bench.precision, "n_params": bench.n_params, "warmup_steps": warmup, "timed_steps": steps,
            "cells": rows, "achieved_gflops_per_second": best, "extrapolation": extrapolate(bench.n_params, best)}


def extrapolate(n_params: int, gflops: float, tokens_per_step: int = 8 * 128) -> dict:
    """Same FLOP rate, bigger model: seconds per step of `tokens_per_step` and optimizer-state memory."""
    import psutil

    ram_gib = psutil.virtual_memory().total / 2**30
    rows = {}
    for name, n in {"measured": n_params, **TARGET_PARAMS}.items():
        seconds = 6 * n * tokens_per_step / (gflops * 1e9)
        state = n * FULL_FT_BYTES_PER_PARAM / 2**30
        rows[name] = {"params": n, "s_per_step": seconds, "tokens_per_second": tokens_per_step / seconds,
                      "full_ft_state_gib": state, "fits_in_ram": state < ram_gib}
    return {"tokens_per_step": tokens_per_step, "assumed_gflops_per_second": gflops, "ram_gib": ram_gib,
            "by_size": rows}
