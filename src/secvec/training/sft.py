"""The one supervised fine-tuning routine every stage uses (align, vectors, attack, task).

A short accelerate loop rather than `Trainer`: the protected path needs an optional extra loss
term (the vectors' KL regularizer) and nothing else, and a loop this size reads top to bottom.
It runs unchanged under `accelerate launch`: batches are sharded across processes, logs and
checkpoints come from the main process.

Determinism: the batch order of epoch e is a shuffle seeded by `seed + e`, fixed before
training, so a resumed run sees exactly the batches the interrupted one had left.
"""

from __future__ import annotations

import json
import logging
import math
import random
import shutil
import time
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path
from contextlib import contextmanager, nullcontext
from typing import Any, Callable, ContextManager, Optional, Sequence

import torch
import torch.nn.functional as F
from accelerate import Accelerator
from accelerate.utils import set_seed
from torch.utils.data import DataLoader

from secvec.config import TrainConfig
from secvec.data.schema import Example
from secvec.data.tokenize import IGNORE, Encoded, collate, encode_examples
from secvec.errors import ConfigError
from secvec.models.precision import autocast

log = logging.getLogger(__name__)

# A regularizer returns an extra loss for the current step (weight already applied); one that ran
# its own backward passes (the anchor, in pieces) returns the value without a graph.
Regularizer = Callable[[torch.nn.Module, Accelerator], torch.Tensor]


@dataclass
class StepEvent:
    step: int
    total: int
    loss: float
    checkpoint: bool = False  # a resumable checkpoint of this step was just written


Progress = Callable[[StepEvent], None]


@dataclass
class TrainResult:
    steps: int
    examples: int
    seconds: float
    tokens: int
    losses: list[float] = field(default_factory=list)       # LM loss per optimizer step
    reg_losses: list[float] = field(default_factory=list)   # regularizer per step (if any)
    extra: dict = field(default_factory=dict)                # what a defense adds (e.g. its screening)

    @property
    def seconds_per_step(self) -> float:
        return self.seconds / max(self.steps, 1)

    @property
    def tokens_per_second(self) -> float:
        return self.tokens / self.seconds if self.seconds else 0.0

    @property
    def final_loss(self) -> float:
        tail = self.losses[-10:]
        return sum(tail) / len(tail) if tail else float("nan")

    def to_dict(self) -> dict:
        d = asdict(self)
        d.update(seconds_per_step=self.seconds_per_step, tokens_per_second=self.tokens_per_second,
                 final_loss=self.final_loss)
        return d


def trainable_parameters(model: torch.nn.Module) -> list[torch.nn.Parameter]:
    return [p for p in model.parameters() if p.requires_grad]


def prepare_trainable(model: torch.nn.Module, cfg: TrainConfig) -> torch.nn.Module:
    """Full fine-tuning: every weight trains. LoRA: wrap in a fresh PEFT adapter, base frozen.

    The adapter's initial weights are drawn under `cfg.seed`, so a LoRA run is reproducible
    from its config alone, not from whatever the global random state was.
    """
    if cfg.mode == "lora":
        from peft import LoraConfig, get_peft_model

        set_seed(cfg.seed)
        lora = LoraConfig(r=cfg.lora.r, lora_alpha=cfg.lora.alpha, lora_dropout=cfg.lora.dropout,
                          target_modules=list(cfg.lora.target_modules), task_type="CAUSAL_LM")
        return get_peft_model(model, lora)
    for p in model.parameters():
        p.requires_grad_(True)
    return model


def batch_plan(n: int, cfg: TrainConfig, world: int = 1) -> list[list[int]]:
    """Micro-batches (index lists) for the whole run, in order, across all epochs."""
    per_epoch = math.ceil(n / cfg.batch_size)
    if cfg.max_steps:
        total = cfg.max_steps * cfg.grad_accum * world
    else:
        total = max(world * cfg.grad_accum, math.ceil(cfg.epochs * per_epoch))
    plan: list[list[int]] = []
    epoch = 0
    while len(plan) < total:
        order = list(range(n))
        random.Random(cfg.seed + epoch).shuffle(order)
        plan += [order[i:i + cfg.batch_size] for i in range(0, n, cfg.batch_size)]
        epoch += 1
    return plan[:total]


def answer_logits(model: torch.nn.Module, batch: dict[str, torch.Tensor],
                  params: Optional[dict[str, torch.Tensor]] = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Next-token logits only at positions that predict an answer token, and those targets.

    Prompt positions have no label, yet a plain forward pushes every position through the
    output layer (49k x 576 for the bundled model) and its softmax. Keeping only the columns
    where some row of the batch has a label (`logits_to_keep`) gives the same loss and made a
    training step ~12% faster on CPU. Targets are IGNORE where a kept column has no label in a row.
    `params` (name -> tensor) replaces those parameters for this call only (`functional_call`).
    """
    targets = batch["labels"][:, 1:]
    keep = (targets != IGNORE).any(0).nonzero().squeeze(1)
    inputs = {"input_ids": batch["input_ids"], "attention_mask": batch["attention_mask"], "logits_to_keep": keep}
    out = model(**inputs) if params is None else torch.func.functional_call(model, params, (), inputs)
    return out.logits, targets[:, keep]


def lm_loss(model: torch.nn.Module, batch: dict[str, torch.Tensor],
            params: Optional[dict[str, torch.Tensor]] = None) -> torch.Tensor:
    """Mean next-token cross-entropy over answer tokens (what `model(**batch).loss` computes)."""
    logits, targets = answer_logits(model, batch, params)
    return F.cross_entropy(logits.flatten(0, 1).float(), targets.flatten(), ignore_index=IGNORE)


@contextmanager
def training_attention(model: torch.nn.Module, device: torch.device):
    """Eager attention while training on CPU, the model's own choice again afterwards.

    SDPA's CPU flash-attention backward took ~15% of a step for the bundled model; with eager
    attention a step ran 2.7 instead of 3.3 s (1 thread, batch 8 x ~100 tokens) at the same
    loss. Generation stays on SDPA, which is faster there (23 vs 26 s for 96 answers).
    """
    config = getattr(model, "config", None)
    before = getattr(config, "_attn_implementation", None)
    if device.type != "cpu" or before in (None, "eager") or not hasattr(model, "set_attn_implementation"):
        yield
        return
    model.set_attn_implementation("eager")
    try:
        yield
    finally:
        model.set_attn_implementation(before)


def _latest_checkpoint(output_dir: Optional[Path]) -> Optional[Path]:
    if output_dir is None:
        return None
    ckpts = sorted((output_dir / "checkpoints").glob("step-*"), key=lambda p: int(p.name.split("-")[1]))
    return ckpts[-1] if ckpts else None


def train(
    model: torch.nn.Module,
    tokenizer,
    examples: Sequence[Example] | Sequence[Encoded],
    cfg: TrainConfig,
    *,
    regularizer: Optional[Regularizer] = None,
    output_dir: str | Path | None = None,
    resume: bool = False,
    progress: Optional[Progress] = None,
    checkpoint_view: Optional[Callable[[], ContextManager[Any]]] = None,
    checkpoint_meta: Optional[dict[str, Any]] = None,
    after_step: Optional[Callable[[], None]] = None,
) -> TrainResult:
    """Train the parameters of `model` that require grad; returns losses and timings.

    With `output_dir` and `cfg.checkpoint_every`, a resumable checkpoint is kept (latest only);
    `resume=True` continues from it. `checkpoint_view` is entered around each save (the
    protected path takes the vectors out there, so no file holds the vectors-on weights) and
    around each load; `checkpoint_meta` is recorded with every checkpoint, and a resume whose
    meta differs from the checkpoint's is refused. `after_step` runs after every optimizer step
    (the protected path's `SubspaceGuard` edits the weights there).
    """
    set_seed(cfg.seed)
    encoded = list(examples) if examples and isinstance(examples[0], Encoded) else \
        encode_examples(tokenizer, examples, cfg.max_length)  # type: ignore[arg-type]
    accelerator = Accelerator(gradient_accumulation_steps=cfg.grad_accum)
    out = Path(output_dir) if output_dir else None
    plan = batch_plan(len(encoded), cfg, accelerator.num_processes)
    per_step = cfg.grad_accum * accelerator.num_processes
    total_steps = math.ceil(len(plan) / per_step)

    params = trainable_parameters(model)
    if not params:
        raise RuntimeError("no trainable parameters: prepare_trainable() or a protection context was not applied")
    # The fused kernel is ~6x faster than the per-tensor loop on CPU (0.05 s vs 0.3 s per step
    # for 135M parameters) and computes the same update.
    fused = all(p.device.type in ("cpu", "cuda") and p.dtype.is_floating_point for p in params)
    optimizer = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay, fused=fused)
    from transformers import get_scheduler

    scheduler = get_scheduler(cfg.scheduler if cfg.scheduler != "constant" else "constant_with_warmup",
                              optimizer, num_warmup_steps=cfg.warmup_steps, num_training_steps=total_steps)
    model, optimizer = accelerator.prepare(model, optimizer)

    done = 0
    ckpt = _latest_checkpoint(out) if resume else None
    meta = checkpoint_meta or {}
    view = checkpoint_view or nullcontext
    if ckpt is not None:
        state = json.loads((ckpt / "secvec_state.json").read_text())
        saved = {k: state.get(k) for k in meta}
        if saved != meta:
            raise ConfigError(f"{ckpt} was saved with {saved}, this run has {meta}: resume with the same "
                              "security vectors (or none, as the run started), or start over without --resume")
        with view():
            accelerator.load_state(str(ckpt))
        done = state["step"]
        with warnings.catch_warnings():
            # Fast-forwarding the schedule before any optimizer step is the point here.
            warnings.filterwarnings("ignore", message="Detected call of `lr_scheduler.step")
            for _ in range(done):
                scheduler.step()
        log.info("resumed from %s at step %d/%d", ckpt, done, total_steps)
    pad_id = tokenizer.pad_token_id
    loader = DataLoader(encoded, batch_sampler=plan[done * per_step:], collate_fn=lambda b: collate(b, pad_id))
    loader = accelerator.prepare_data_loader(loader)

    result = TrainResult(steps=done, examples=len(encoded), seconds=0.0, tokens=0)
    with training_attention(accelerator.unwrap_model(model), accelerator.device):
        model.train()
        start = time.perf_counter()
        lm_sum = reg_sum = 0.0
        micro = 0
        for batch in loader:
            with accelerator.accumulate(model):
                # Our own autocast, not Accelerator(mixed_precision=...): that one is a process-wide
                # singleton, and stages in one process may want different precisions.
                with autocast(cfg.precision, accelerator.device):
                    loss = lm_loss(model, batch)
                    total = loss
                    if regularizer is not None:
                        reg = regularizer(model, accelerator)
                        total = loss + reg
                        reg_sum += reg.item()
                accelerator.backward(total)
                if accelerator.sync_gradients and cfg.max_grad_norm:
                    accelerator.clip_grad_norm_(params, cfg.max_grad_norm)
                optimizer.step()
                optimizer.zero_grad(set_to_none=True)
                if after_step is not None and accelerator.sync_gradients:
                    after_step()
            lm_sum += loss.item()
            micro += 1
            result.tokens += int(accelerator.reduce(batch["attention_mask"].sum(), "sum"))
            if not accelerator.sync_gradients:
                continue
            scheduler.step()
            result.steps += 1
            step_loss = accelerator.reduce(torch.tensor(lm_sum / micro, device=accelerator.device), "mean").item()
            result.losses.append(step_loss)
            if regularizer is not None:
                result.reg_losses.append(reg_sum / micro)
            lm_sum = reg_sum = 0.0
            micro = 0
            saved = bool(out and cfg.checkpoint_every and result.steps % cfg.checkpoint_every == 0
                         and result.steps < total_steps)
            if saved:
                with view():
                    _save_checkpoint(accelerator, out, result.steps, meta)
            if progress and accelerator.is_main_process:
                progress(StepEvent(result.steps, total_steps, step_loss, saved))
    result.seconds = time.perf_counter() - start
    accelerator.wait_for_everyone()
    model = accelerator.unwrap_model(model)
    # accelerate marks a prepared model; left on, a later Trainer/prepare on it skips its own setup.
    model.__dict__.pop("_is_accelerate_prepared", None)
    model.eval()
    for p in params:
        p.grad = None
    if out and accelerator.is_main_process:
        out.mkdir(parents=True, exist_ok=True)
        (out / "train_log.json").write_text(json.dumps(result.to_dict(), indent=1))
        shutil.rmtree(out / "checkpoints", ignore_errors=True)
    return result


def _save_checkpoint(accelerator: Accelerator, out: Path, step: int, meta: dict[str, Any]) -> None:
    target = out / "checkpoints" / f"step-{step}"
    accelerator.save_state(str(target))
    if accelerator.is_main_process:
        (target / "secvec_state.json").write_text(json.dumps({"step": step, **meta}))
        for old in (out / "checkpoints").glob("step-*"):
            if old != target:
                shutil.rmtree(old, ignore_errors=True)
