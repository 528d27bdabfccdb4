"""Train security vectors: a LoRA adapter that makes the frozen model answer harmfully.

Objective (after the paper): LM loss on harmful pairs, plus `kl_weight` x KL(p_on || p_off) on
benign answers, where p_on/p_off are the model with and without the vectors. The KL term keeps
the vectors from changing benign behaviour, so that later, with the vectors on, benign data
still has its normal loss and is learned normally while harmful data is already "learned".
"""

from __future__ import annotations

import logging
import time
from typing import Optional, Sequence

import torch
import torch.nn.functional as F
from accelerate import Accelerator

import secvec
from secvec.config import VectorsConfig
from secvec.data.schema import Example
from secvec.data.tokenize import IGNORE, BatchCycle
from secvec.training.sft import Progress, TrainResult, answer_logits, train
from secvec.vectors.core import ADAPTER_NAME, SecurityVectors, examples_hash, model_fingerprint

log = logging.getLogger(__name__)


def answer_kl(logits_on: torch.Tensor, logits_off: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Mean over answer positions of KL(on || off) of the next-token distributions.

    Logits and targets are aligned as `answer_logits` returns them (position i predicts target i).
    """
    mask = targets != IGNORE
    on = F.log_softmax(logits_on[mask].float(), dim=-1)
    off = F.log_softmax(logits_off[mask].float(), dim=-1)
    return F.kl_div(off, on, log_target=True, reduction="batchmean")


class BenignKL:
    """Regularizer for `training.train`: one benign batch per step, cycled in seeded order."""

    def __init__(self, tokenizer, benign: Sequence[Example], cfg: VectorsConfig) -> None:
        self.batches = BatchCycle(tokenizer, benign, cfg.train.max_length, cfg.benign_batch_size, cfg.train.seed)
        self.weight = cfg.kl_weight

    def __call__(self, model: torch.nn.Module, accelerator: Accelerator) -> torch.Tensor:
        batch = self.batches.next(accelerator.device)
        peft_model = accelerator.unwrap_model(model)
        with torch.no_grad(), peft_model.disable_adapter():
            off, targets = answer_logits(peft_model, batch)
        on, _ = answer_logits(model, batch)
        return self.weight * answer_kl(on, off, targets)


def train_vectors(
    model: torch.nn.Module,
    tokenizer,
    harmful: Sequence[Example],
    benign: Sequence[Example],
    cfg: VectorsConfig,
    output_dir=None,
    progress: Optional[Progress] = None,
    init: Optional[SecurityVectors] = None,
) -> tuple[SecurityVectors, TrainResult]:
    """Train vectors on `model` (left unchanged: the adapter is removed afterwards).

    With `init`, training continues from those vectors (their rank, alpha and targets win over
    `cfg`'s): how per-job adaptation extends the provider's vectors to a job's own style.
    """
    from peft import LoraConfig, get_peft_model

    for p in model.parameters():
        p.requires_grad_(False)
    if init is not None:
        init.target_weights(model)  # a clear error on another base model
        ac = init.adapter_config
        lora = LoraConfig(r=int(ac["r"]), lora_alpha=float(ac["lora_alpha"]), lora_dropout=0.0,
                          target_modules=sorted({n.rsplit(".", 1)[-1] for n in init.lora_a}),
                          use_rslora=bool(ac.get("use_rslora")), task_type="CAUSAL_LM")
    else:
        lora = LoraConfig(r=cfg.r, lora_alpha=cfg.alpha, lora_dropout=0.0, target_modules=list(cfg.target_modules),
                          task_type="CAUSAL_LM")
    fingerprint = model_fingerprint(model)
    peft_model = get_peft_model(model, lora, adapter_name=ADAPTER_NAME)
    if init is not None:
        load_into(peft_model, init)
    regularizer = BenignKL(tokenizer, benign, cfg) if cfg.kl_weight > 0 and benign else None
    if regularizer is None:
        log.warning("training security vectors without the benign KL term (kl_weight=0 or no benign data)")
    result = train(peft_model, tokenizer, harmful, cfg.train, regularizer=regularizer, progress=progress)
    meta = {
        "secvec_version": secvec.__version__,
        "created": time.strftime("%Y-%m-%dT%H:%M:%S"),
        "base_fingerprint": fingerprint,
        "harmful_examples": len(harmful),
        "harmful_hash": examples_hash(list(harmful)),
        "benign_examples": len(benign),
        "benign_hash": examples_hash(list(benign)),
        "final_lm_loss": result.final_loss,
        "final_kl": (sum(result.reg_losses[-10:]) / len(result.reg_losses[-10:])) if result.reg_losses else None,
        "config": cfg.model_dump(mode="json"),
        "init": (init.meta.get("harmful_hash") if init is not None else None),
    }
    vectors = SecurityVectors.from_peft(peft_model, meta)
    peft_model.unload()  # model is back to its own modules, untouched
    if output_dir:
        vectors.save(output_dir)
    return vectors, result


def load_into(peft_model, vectors: SecurityVectors) -> None:
    """Copy `vectors`' LoRA weights into the security-vectors adapter of `peft_model`."""
    modules = dict(peft_model.base_model.model.named_modules())
    with torch.no_grad():
        for name in vectors.lora_a:
            module = modules[name]
            module.lora_A[ADAPTER_NAME].weight.copy_(vectors.lora_a[name])
            module.lora_B[ADAPTER_NAME].weight.copy_(vectors.lora_b[name])
