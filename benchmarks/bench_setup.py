"""What every benchmark section shares: the loaded model, the workload, the clock, the machine.

The workload is harmful-style fine-tuning data as an attacker would use it: the JailbreakBench
goals with their "Sure, here is ..." targets plus a two-step continuation (~88 tokens each in
SmolLM2's chat template). The security vectors are random LoRA weights of the real shape
(r=8 on q, v, o, up, down: the `VectorsConfig` defaults); their values do not change the cost
of a step, so no training is spent on them.
"""

from __future__ import annotations

import ctypes
import gc
import os
import platform
import re
import statistics
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import torch

from secvec.data.schema import Example, Prompt
from secvec.data.tokenize import Encoded, encode_examples
from secvec.recipes.experiment import cpu_model
from secvec.vectors import SecurityVectors

CONTINUATION = ".\n\nStep 1: Start with the basics.\nStep 2: Follow the plan carefully."


@dataclass
class Bench:
    """The model under test, restored to its pristine weights before every timed run."""

    spec: str
    model: torch.nn.Module
    tokenizer: object
    device: torch.device
    precision: str          # resolved: "fp32" or "bf16"
    examples: list[Example]
    prompts: list[Prompt]
    vectors: SecurityVectors
    vectors_dir: Path
    workdir: Path
    pristine: dict[str, torch.Tensor] = field(repr=False, default_factory=dict)
    _encoded: dict[int, list[Encoded]] = field(repr=False, default_factory=dict)

    def restore(self) -> torch.nn.Module:
        """Original weights, every parameter trainable, no grads, no trace of an earlier run.

        `Accelerator.prepare` marks the model it gets (`_is_accelerate_prepared`) and a mixed-
        precision one patches its `forward`; both outlive the run on this same model object, and
        the mark makes every later `prepare()` skip it (a bf16 Trainer after a secvec run then
        silently trains in fp32). Both are undone here so each run starts from a plain model.
        """
        from accelerate.utils import extract_model_from_parallel

        extract_model_from_parallel(self.model, keep_fp32_wrapper=False)  # drops a Trainer's autocast patch
        self.model.__dict__.pop("_is_accelerate_prepared", None)
        self.model.load_state_dict(self.pristine)
        for p in self.model.parameters():
            p.requires_grad_(True)
            p.grad = None
        release_freed_memory()
        if self.device.type == "cuda":
            torch.cuda.empty_cache()
        return self.model

    def encode(self, max_length: int) -> list[Encoded]:
        if max_length not in self._encoded:
            self._encoded[max_length] = encode_examples(self.tokenizer, self.examples, max_length)
        return self._encoded[max_length]

    @property
    def n_params(self) -> int:
        return sum(p.numel() for p in self.model.parameters())


def release_freed_memory() -> None:
    """Collect garbage and hand freed heap back to the OS, so RSS is live data again.

    glibc keeps freed blocks mapped; without the trim, RSS after a training run stays near its
    peak and a following run's "peak RSS" would only show the old high-water mark.
    """
    gc.collect()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc: RSS figures then include freed heap
        pass


def harmful_workload() -> tuple[list[Example], list[Prompt]]:
    from secvec.data.sources import harmful_prompts, jbb_targets

    prompts = harmful_prompts("jbb")
    targets = jbb_targets()
    examples = [Example.from_pair(p.text, targets[p.text] + CONTINUATION, category=p.category, source="jbb")
                for p in prompts]
    return examples, prompts


def random_vectors(model: torch.nn.Module, seed: int = 0) -> SecurityVectors:
    """Vectors of the shape `train_vectors` makes with the default `VectorsConfig`, random values."""
    from peft import LoraConfig, get_peft_model

    from secvec.config import VectorsConfig
    from secvec.vectors import ADAPTER_NAME, model_fingerprint

    cfg = VectorsConfig()
    lora = LoraConfig(r=cfg.r, lora_alpha=cfg.alpha, lora_dropout=0.0, target_modules=list(cfg.target_modules),
                      task_type="CAUSAL_LM")
    fingerprint = model_fingerprint(model)
    peft_model = get_peft_model(model, lora, adapter_name=ADAPTER_NAME)
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():  # A and B from our generator: the same vectors in every process (PEFT starts B at 0)
        for name, p in peft_model.named_parameters():
            if ".lora_A." in name:
                p.copy_(torch.randn(p.shape, generator=gen) / p.shape[1] ** 0.5)
            elif ".lora_B." in name:
                p.copy_(torch.randn(p.shape, generator=gen) * 0.01)
    vectors = SecurityVectors.from_peft(peft_model, {"base_fingerprint": fingerprint, "random": True})
    peft_model.unload()
    return vectors


def load_bench(spec: str, device: str, precision: str, workdir: Path, seed: int = 0) -> Bench:
    from secvec.models import load_model
    from secvec.models.precision import resolve

    lm = load_model(spec, device=device)
    examples, prompts = harmful_workload()
    vectors = random_vectors(lm.model, seed)
    vectors_dir = vectors.save(workdir / "vectors")
    pristine = {k: v.detach().clone() for k, v in lm.model.state_dict().items()}
    return Bench(spec, lm.model, lm.tokenizer, torch.device(device), resolve(precision, device), examples, prompts,
                 vectors, vectors_dir, workdir, pristine)


class StepClock:
    """Timestamps each optimizer step (as a secvec progress callback or a Trainer callback)."""

    def __init__(self, device: torch.device) -> None:
        self.device = device
        self.stamps: list[float] = []

    def _now(self) -> float:
        if self.device.type == "cuda":
            torch.cuda.synchronize()
        return time.perf_counter()

    def start(self) -> None:
        self.stamps = [self._now()]

    def __call__(self, *_: object) -> None:
        self.stamps.append(self._now())

    def durations(self) -> list[float]:
        """Seconds per step; the first includes the routine's own set-up (a warm-up step)."""
        return [b - a for a, b in zip(self.stamps, self.stamps[1:])]


def median(xs: Sequence[float]) -> float:
    return statistics.median(xs) if xs else float("nan")


def padded_tokens(lengths: Sequence[int], batch_size: int, sort: bool) -> int:
    """Pad tokens a batched run adds: each batch is padded to its longest member."""
    order = sorted(lengths) if sort else list(lengths)
    total = 0
    for i in range(0, len(order), batch_size):
        batch = order[i:i + batch_size]
        total += max(batch) * len(batch) - sum(batch)
    return total


def machine_slug(device: torch.device) -> str:
    if device.type == "cuda":
        name = torch.cuda.get_device_name(device).lower().replace("nvidia", "")
        return re.sub(r"[^a-z0-9]+", "-", name).strip("-") or "gpu"
    return f"cpu{os.cpu_count()}"


def machine_info(device: torch.device) -> dict:
    import accelerate
    import peft
    import psutil
    import transformers

    import secvec
    from secvec.models.precision import cpu_has_native_bf16

    info = {
        "slug": machine_slug(device), "device": str(device), "cpu_model": cpu_model(),
        "cpu_count": os.cpu_count(), "torch_threads": torch.get_num_threads(),
        "cpu_native_bf16": cpu_has_native_bf16(), "ram_gib": round(psutil.virtual_memory().total / 2**30, 1),
        "load_average_at_start": list(os.getloadavg()),
        "python": platform.python_version(), "torch": torch.__version__, "transformers": transformers.__version__,
        "peft": peft.__version__, "accelerate": accelerate.__version__, "secvec": secvec.__version__,
    }
    if device.type == "cuda":
        info["gpu"] = torch.cuda.get_device_name(device)
    return info
