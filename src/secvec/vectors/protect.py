"""Fine-tuning with the security vectors on in the forward pass, frozen, then off.

Two equivalent ways to keep the vectors active:

* `merged` (default, no extra cost): add each vector delta `B @ A * s` into the base weight it
  targets, train, then subtract it. The forward pass `(W + Δ) x` is exactly the base plus the
  active adapter; the gradient w.r.t. the merged tensor equals the gradient w.r.t. W (Δ is a
  constant), and Adam's step does not depend on the weight's value, so full fine-tuning makes
  the same updates. Subtracting Δ afterwards leaves the trained weights with the vectors off.
  Caveat: decoupled weight decay would also decay Δ; keep `weight_decay=0` for exactness.
* `active` (reference): load the vectors as a second, frozen PEFT adapter. Same function,
  ~30% slower on CPU; kept to test the merged path against.
"""

from __future__ import annotations

import logging
from contextlib import contextmanager
from typing import Iterator, Literal, Optional, Sequence

import torch
from accelerate import PartialState

from secvec.config import TrainConfig
from secvec.data.schema import Example
from secvec.errors import ConfigError, ModelError
from secvec.data.tokenize import IGNORE, BatchCycle
from secvec.training.sft import Progress, Regularizer, TrainResult, batch_plan, lm_loss, prepare_trainable, train
from secvec.vectors.core import ADAPTER_NAME, SecurityVectors
from secvec.vectors.project import ProjectOption, SubspaceGuard, guard_spec

log = logging.getLogger(__name__)


def _deltas(model: torch.nn.Module, vectors: SecurityVectors, merged_in: bool = False) -> tuple[dict, dict]:
    """The weights the vectors target, and each one's delta in that weight's device and dtype.

    `merged_in`: the vectors are already in the weights (inside `merged`), so the weights differ
    from those the vectors were trained on by design: no warning about it.
    """
    weights = vectors.target_weights(model, check_weights=not merged_in)
    return weights, {name: vectors.delta(name).to(w.device, w.dtype) for name, w in weights.items()}


def _shift(weights: dict, deltas: dict, sign: int) -> None:
    """Add (+1) or subtract (-1) each delta in place.

    In the weight's device at the time: training moves a model loaded elsewhere to its own
    device in place, between adding the delta and taking it out.
    """
    with torch.no_grad():
        for name, w in weights.items():
            (w.add_ if sign > 0 else w.sub_)(deltas[name].to(w.device))


@contextmanager
def merged(model: torch.nn.Module, vectors: SecurityVectors, exact: bool = False) -> Iterator[torch.nn.Module]:
    """Add the vectors' delta into the weights they target; take it out again on exit.

    Subtracting is what fine-tuning needs (the weights changed in between, so only `- Δ` is
    meaningful) and costs no memory, but `(W + Δ) - Δ` is W only to float rounding. For an
    inference-only toggle that may run many times (a server), `exact=True` copies the targeted
    weights first and puts them back bit for bit.
    """
    weights, deltas = _deltas(model, vectors)
    saved = {name: w.detach().clone() for name, w in weights.items()} if exact else {}
    _shift(weights, deltas, +1)
    try:
        yield model
    finally:
        if exact:
            with torch.no_grad():
                for name, w in weights.items():
                    w.copy_(saved[name])
        else:
            _shift(weights, deltas, -1)


@contextmanager
def active(model: torch.nn.Module, vectors: SecurityVectors) -> Iterator[torch.nn.Module]:
    from peft import PeftModel

    if vectors.path is None:
        raise ModelError("the 'active' protection path needs vectors saved to a directory")
    vectors.target_weights(model)  # fail early, with secvec's message, on a different base
    if isinstance(model, PeftModel):  # the user trains a LoRA adapter: add ours beside it
        user = model.active_adapter
        model.load_adapter(str(vectors.path), adapter_name=ADAPTER_NAME, is_trainable=False)
        model.base_model.set_adapter([user, ADAPTER_NAME])
        for n, p in model.named_parameters():
            if f".{ADAPTER_NAME}." in n:
                p.requires_grad_(False)
        try:
            yield model
        finally:
            model.base_model.set_adapter(user)
            model.delete_adapter(ADAPTER_NAME)
    else:  # full fine-tuning: wrap, then unfreeze every base weight
        wrapped = PeftModel.from_pretrained(model, str(vectors.path), adapter_name=ADAPTER_NAME, is_trainable=False)
        for n, p in wrapped.named_parameters():
            p.requires_grad_("lora_" not in n)
        try:
            yield wrapped
        finally:
            wrapped.unload()  # restores the original modules in `model`, adapter dropped


@contextmanager
def vectors_on(model: torch.nn.Module, vectors: Optional[SecurityVectors],
               method: Literal["merge", "active"] = "merge", exact: bool = False) -> Iterator[torch.nn.Module]:
    """The model with the vectors on (frozen); a no-op when `vectors` is None.

    `exact=True` (merge only): restore the original weights bit for bit on exit; only for
    use without training inside the block.
    """
    if vectors is None:
        yield model
    elif method == "merge":
        with merged(model, vectors, exact) as m:
            yield m
    else:
        with active(model, vectors) as m:
            yield m


def protected_finetune(
    model: torch.nn.Module,
    tokenizer,
    examples: Sequence[Example],
    cfg: TrainConfig,
    vectors: Optional[SecurityVectors] = None,
    method: Literal["merge", "active"] = "merge",
    output_dir=None,
    resume: bool = False,
    progress: Optional[Progress] = None,
    regularizer: Optional[Regularizer] = None,
    project: ProjectOption = None,
    guard: Optional[SecurityVectors] = None,
) -> tuple[torch.nn.Module, TrainResult]:
    """Fine-tune (full or LoRA per `cfg`) with the vectors on and frozen; returns the model with them off.

    Without vectors this is plain (vanilla) fine-tuning, the same code path. `regularizer`
    (e.g. `VectorsOffAnchor`) adds its loss at every step; `project` keeps the job's update out of
    the subspace of `guard` (default: the vectors) after every step (`SubspaceGuard`).
    """
    if vectors is not None and cfg.weight_decay:
        log.warning("weight_decay=%s also decays the merged vectors' delta; results differ slightly from "
                    "an active frozen adapter", cfg.weight_decay)
    model = prepare_trainable(model, cfg)
    view = None
    if vectors is not None and output_dir is not None and cfg.checkpoint_every:
        if method != "merge":
            raise ConfigError("checkpoints of a protected run need the 'merge' method (the 'active' adapter "
                              "would be saved in them)")
        view = lambda: taken_out(model, vectors)  # noqa: E731
    guard, project = guard or vectors, guard_spec(project)
    if project and guard is None:
        raise ConfigError("project needs security vectors: their subspace is what it keeps the job out of")
    # A resume under another guard would mix two kinds of update in one job: refused like other vectors.
    meta = {"vectors": vectors.fingerprint() if vectors is not None else None,
            "project": [*project.meta(), guard.fingerprint()] if project else None}
    with vectors_on(model, vectors, method) as m:
        after = SubspaceGuard(m, guard, project) if project else None
        result = train(m, tokenizer, examples, cfg, output_dir=output_dir, resume=resume, progress=progress,
                       checkpoint_view=view, checkpoint_meta=meta, regularizer=regularizer, after_step=after)
    if after is not None:
        result.extra["guard_peak"] = round(after.peak, 4)  # > radius: the clip acted
        log.info("subspace guard (%s, radius %s): largest guarded part %.3f of its delta's norm",
                 after.mode, after.radius, after.peak)
    return model, result


@contextmanager
def taken_out(model: torch.nn.Module, vectors: SecurityVectors) -> Iterator[torch.nn.Module]:
    """Inside `merged`: the vectors' delta out of the weights for the block, back in after.

    Checkpoints are written (and read) in here, so a file on disk never holds the vectors-on
    model, the one that answers harmfully. A run that resumes from one puts the delta back the
    same way the uninterrupted run did after saving it, so both continue from identical bits.
    """
    weights, deltas = _deltas(model, vectors, merged_in=True)
    _shift(weights, deltas, -1)
    try:
        yield model
    finally:
        _shift(weights, deltas, +1)


class VectorsOffAnchor:
    """Regularizer for a protected job: the model *with the vectors off* keeps answering safe prompts.

    Whatever a protected job learns with the vectors on includes undoing their effect on the
    inputs it sees, and with the vectors off that undoing shows as refusal (on the re-aligned
    reference a protected harmful job left 38% of borderline prompts refused, aligned 2%). This
    term trains, at each step, one batch of the provider's own pairs (by default the alignment
    set's benign and borderline answers, no refusals) through the weights *minus* the vectors'
    delta, the model that will be served. It needs the `merge` method: the vectors-off weights
    are `W - delta`, computed out of place so the vectors-on graph of the same step stays valid.
    Its batch order starts over in a resumed run (not saved in checkpoints). A batch larger than the
    job's own (`covering_batch` in a short job) is run in pieces of the job's batch size, each with
    its own backward pass, so it holds at most one more batch of the job's size in memory: 45
    sequences at once took a worker past 10 GB and the OOM killer ended it (v25).
    """

    def __init__(self, tokenizer, examples: Sequence[Example], vectors: SecurityVectors, weight: float,
                 batch_size: int, job: TrainConfig, cover: Optional[int] = None) -> None:
        """`cover`: the job's number of examples; the batch is then raised (`covering_batch`) until
        that job rehearses every anchor pair once."""
        if cover is not None:
            batch_size = covering_batch(batch_size, len(examples), cover, job)
        # At least the alignment's 128 tokens: a short-answer job must not cut the anchor's answers.
        self.batches = BatchCycle(tokenizer, examples, max(job.max_length, 128), batch_size, job.seed)
        self.vectors = vectors
        self.weight = weight
        self.piece = job.batch_size
        # (parameter name, parameter, its delta), found at the first step; the optimizer updates
        # the parameters in place, so they stay the same objects for the whole job.
        self.targets: Optional[list[tuple[str, torch.nn.Parameter, torch.Tensor]]] = None

    def __call__(self, model: torch.nn.Module, accelerator) -> torch.Tensor:
        if self.targets is None:
            weights, deltas = _deltas(accelerator.unwrap_model(model), self.vectors, merged_in=True)
            by_id = {id(w): name for name, w in weights.items()}
            self.targets = [(n, p, deltas[by_id[id(p)]]) for n, p in model.named_parameters() if id(p) in by_id]
        batch = self.batches.next(accelerator.device)
        rows = batch["input_ids"].shape[0]
        if rows <= self.piece:
            return self.weight * lm_loss(model, batch, {n: p - d for n, p, d in self.targets})
        # The loss is a mean over the batch's answer tokens, so each piece counts by its share of
        # them: the summed gradients are the whole batch's. The graphs are gone when this returns,
        # so the value goes back without one (the job's backward adds nothing for it).
        tokens = (batch["labels"][:, 1:] != IGNORE).sum(1).float()
        total = tokens.sum()
        value = torch.zeros((), device=accelerator.device)
        for i in range(0, rows, self.piece):
            share = tokens[i:i + self.piece].sum() / total
            if share == 0:
                continue
            piece = {k: v[i:i + self.piece] for k, v in batch.items()}
            loss = self.weight * share * lm_loss(model, piece, {n: p - d for n, p, d in self.targets})
            accelerator.backward(loss)
            value += loss.detach()
        return value


def covering_batch(minimum: int, n_pairs: int, n_examples: int, job: TrainConfig) -> int:
    """The anchor batch (at least `minimum`) that rehearses all `n_pairs` once in a job of `n_examples`.

    The anchor draws one batch per micro-batch of the job, so a short job at a fixed batch sees
    only part of the set, and which part mattered: a 26-step job at 4 a step rehearses 104 of 262
    alignment pairs, and changing only which 104 moved its served model from 0% to 22% harmful
    (benchmarks/results/2026-11-28-cpu2-matrix-v24). Each process draws the same batches.
    """
    world = PartialState().num_processes
    draws = max(1, len(batch_plan(n_examples, job, world)) // world)
    return max(minimum, -(-n_pairs // draws))
