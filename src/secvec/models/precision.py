"""Mixed precision: bf16 autocast where the hardware computes bf16 natively, fp32 elsewhere.

Weights and optimizer state stay in fp32; only matmuls run in bf16. On this project's
reference CPU (AVX512-BF16) that makes a full fine-tuning step ~1.5x and generation ~1.3x
faster (benchmarks/README.md). On a CPU without native bf16, autocast is far *slower* than
fp32, so `auto` checks the hardware instead of assuming.
"""

from __future__ import annotations

from contextlib import nullcontext
from functools import lru_cache
from pathlib import Path
from typing import ContextManager, Literal

import torch

Precision = Literal["auto", "fp32", "bf16"]


@lru_cache(maxsize=None)
def cpu_has_native_bf16() -> bool:
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return any(f in flags for f in ("avx512_bf16", "amx_bf16"))


def resolve(precision: Precision, device: torch.device | str = "cpu") -> Literal["fp32", "bf16"]:
    """`auto` -> bf16 on a CUDA GPU with bf16 or a CPU with native bf16 instructions, else fp32."""
    if precision != "auto":
        return precision
    kind = torch.device(device).type
    if kind == "cuda":
        return "bf16" if torch.cuda.is_bf16_supported() else "fp32"
    return "bf16" if kind == "cpu" and cpu_has_native_bf16() else "fp32"


def autocast(precision: Precision, device: torch.device | str = "cpu") -> ContextManager:
    kind = torch.device(device).type
    if resolve(precision, device) == "bf16" and kind in ("cpu", "cuda"):
        return torch.autocast(kind, dtype=torch.bfloat16)
    return nullcontext()


def for_inference(model: torch.nn.Module, precision: Precision,
                  device: torch.device | str = "cpu") -> tuple[torch.nn.Module, ContextManager]:
    """The model to generate with and the context to run it in.

    bf16 on CPU runs on a bf16 copy of the weights instead of under autocast: autocast casts
    every fp32 weight again at each decoding step, a third of generation time for the bundled
    model (96 answers x 32 tokens, 1 thread: 8.3 s on the copy, 11.7 s under autocast). The
    answers differ from autocast's about as much as fp32's do (16 and 13 of 96 greedy answers).
    Training keeps fp32 weights under autocast: its updates need them. The copy is made only
    where it takes at most half the memory available now (a large model falls back to autocast).
    """
    kind = torch.device(device).type
    params = next(model.parameters(), None)
    if kind == "cpu" and resolve(precision, device) == "bf16" and params is not None and params.dtype == torch.float32:
        import copy

        import psutil

        copy_bytes = 2 * sum(p.numel() for p in model.parameters())
        if copy_bytes <= psutil.virtual_memory().available / 2:
            return copy.deepcopy(model).to(torch.bfloat16), nullcontext()
    return model, autocast(precision, device)
