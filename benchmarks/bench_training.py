"""Fine-tuning step time: vanilla, protected (merged / active vectors) and a plain Trainer reference.

Every variant trains the same examples in the same batches (secvec's `batch_plan`), so a step
does the same work in each; the first `warmup` steps of each run are dropped (they include
set-up: optimizer state allocation, first-call kernels). Variants run round-robin, one run
each per round, the order rotated every round, so slow drift on a shared machine (another job
starting, thermal) falls on all of them alike rather than on whichever ran last.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterable, Literal

from bench_setup import Bench, StepClock, median

from secvec.config import TrainConfig
from secvec.data.schema import Example
from secvec.data.tokenize import encode_examples
from secvec.training.sft import batch_plan

Kind = Literal["vanilla", "protected", "active", "reference"]


@dataclass(frozen=True)
class Variant:
    mode: Literal["full", "lora"]
    kind: Kind
    precision: Literal["fp32", "bf16"]

    @property
    def key(self) -> str:
        return f"{self.mode}/{self.kind}/{self.precision}"


@dataclass
class Workload:
    batch_size: int
    max_length: int
    warmup: int
    steps: int
    lr_full: float = 2e-5
    lr_lora: float = 2e-4

    def config(self, variant: Variant, seed: int = 0) -> TrainConfig:
        return TrainConfig(mode=variant.mode, lr=self.lr_full if variant.mode == "full" else self.lr_lora,
                           max_steps=self.warmup + self.steps, batch_size=self.batch_size,
                           max_length=self.max_length, precision=variant.precision, seed=seed)


def whole_batches(bench: Bench, batch_size: int) -> list[Example]:
    """The workload cut to a multiple of the batch size: every step, in every epoch, is a full batch
    (so the Trainer, which batches the plan's flattened order, meets the same batches as secvec)."""
    return bench.examples[: len(bench.examples) // batch_size * batch_size]


def run_secvec(bench: Bench, variant: Variant, cfg: TrainConfig, examples: list[Example], clock: StepClock) -> None:
    from secvec.vectors import protected_finetune

    model = bench.restore()
    vectors = None if variant.kind == "vanilla" else bench.vectors  # saved, so `active` can load it too
    method = "active" if variant.kind == "active" else "merge"
    clock.start()
    tuned, _ = protected_finetune(model, bench.tokenizer, examples, cfg, vectors, method, progress=clock)
    if hasattr(tuned, "unload"):  # LoRA: drop the user's adapter, the base module is ours again
        tuned.unload()


def run_reference(bench: Bench, variant: Variant, cfg: TrainConfig, examples: list[Example], clock: StepClock) -> None:
    """The same steps through PEFT + transformers `Trainer`, with its overheads switched off."""
    from accelerate.state import AcceleratorState
    from peft import LoraConfig, get_peft_model
    from transformers import PrinterCallback, Trainer, TrainerCallback, TrainingArguments

    from secvec.data.tokenize import collate

    class Clock(TrainerCallback):
        def on_step_end(self, *args, **kwargs):
            clock()

    model = bench.restore()
    if variant.mode == "lora":
        lora = LoraConfig(r=cfg.lora.r, lora_alpha=cfg.lora.alpha, lora_dropout=cfg.lora.dropout,
                          target_modules=list(cfg.lora.target_modules), task_type="CAUSAL_LM")
        model = get_peft_model(model, lora)
    encoded = encode_examples(bench.tokenizer, examples, cfg.max_length)
    ordered = [encoded[i] for batch in batch_plan(len(encoded), cfg) for i in batch]  # secvec's batches
    args = TrainingArguments(
        output_dir=str(bench.workdir / "trainer"), per_device_train_batch_size=cfg.batch_size,
        learning_rate=cfg.lr, max_steps=cfg.max_steps, lr_scheduler_type="constant", warmup_steps=0,
        weight_decay=cfg.weight_decay, max_grad_norm=cfg.max_grad_norm, optim="adamw_torch_fused",
        bf16=variant.precision == "bf16", use_cpu=bench.device.type == "cpu", seed=cfg.seed,
        train_sampling_strategy="sequential", eval_strategy="no", logging_strategy="no", save_strategy="no",
        report_to="none", disable_tqdm=True, dataloader_num_workers=0, dataloader_pin_memory=False,
        remove_unused_columns=False,
    )
    pad_id = bench.tokenizer.pad_token_id
    trainer = Trainer(model=model, args=args, train_dataset=ordered, data_collator=lambda b: collate(b, pad_id),
                      callbacks=[Clock()])
    trainer.remove_callback(PrinterCallback)  # it prints the end-of-run metrics dict
    try:
        clock.start()
        trainer.train()
    finally:
        # Trainer configures accelerate's process-wide state (mixed precision included); clear
        # it so the next secvec run gets the plain Accelerator it always has.
        del trainer
        AcceleratorState._reset_state(reset_partial_state=True)
        if variant.mode == "lora":
            model.unload()


def step_tokens(bench: Bench, cfg: TrainConfig, examples: list[Example]) -> list[int]:
    """Non-pad tokens in each step's batch (the same for every variant of one workload)."""
    encoded = encode_examples(bench.tokenizer, examples, cfg.max_length)
    return [sum(len(encoded[i].input_ids) for i in batch) for batch in batch_plan(len(encoded), cfg)]


def run_variants(bench: Bench, variants: Iterable[Variant], work: Workload, rounds: int,
                 note: Callable[[str], None] = print) -> dict[str, dict]:
    """Round-robin runs; per variant: raw step times, median s/step and tokens/s over timed steps."""
    variants = list(dict.fromkeys(variants))
    examples = whole_batches(bench, work.batch_size)
    out: dict[str, dict] = {v.key: {"mode": v.mode, "kind": v.kind, "precision": v.precision,
                                    "examples": len(examples), "runs": []} for v in variants}
    for r in range(rounds):
        shift = r % len(variants)
        for v in variants[shift:] + variants[:shift]:
            cfg = work.config(v)
            clock = StepClock(bench.device)
            dtypes: set[str] = set()  # what the matmuls really ran in (a precision check, not assumed)
            hook = bench.model.get_output_embeddings().register_forward_hook(
                lambda m, i, o: dtypes.add(str(o.dtype).removeprefix("torch.")))
            try:
                (run_reference if v.kind == "reference" else run_secvec)(bench, v, cfg, examples, clock)
            finally:
                hook.remove()
            secs = clock.durations()
            tokens = step_tokens(bench, cfg, examples)[:len(secs)]
            out[v.key]["runs"].append({"round": r, "compute_dtypes": sorted(dtypes), "warmup_seconds": secs[:work.warmup],
                                       "step_seconds": secs[work.warmup:], "step_tokens": tokens[work.warmup:]})
            timed = secs[work.warmup:]
            note(f"  {v.key:<24} round {r + 1}/{rounds}: median {median(timed):.3f} s/step ({len(timed)} steps)")
    for rec in out.values():
        secs = [s for run in rec["runs"] for s in run["step_seconds"]]
        toks = [t for run in rec["runs"] for t in run["step_tokens"]]
        rec["median_s_per_step"] = median(secs)
        rec["tokens_per_second"] = sum(toks) / sum(secs) if secs else float("nan")
        rec["timed_steps"] = len(secs)
        rec["round_medians"] = [median(run["step_seconds"]) for run in rec["runs"]]
    return out


def ratio(results: dict[str, dict], num: str, den: str, goal: float | None = None,
          higher_is_better: bool = False) -> dict:
    """num/den of median s/step, plus the same ratio per round (its spread shows the noise)."""
    a, b = results[num], results[den]
    value = a["median_s_per_step"] / b["median_s_per_step"]
    per_round = [x / y for x, y in zip(a["round_medians"], b["round_medians"])]
    rec = {"numerator": num, "denominator": den, "ratio": value, "per_round": per_round}
    if goal is not None:
        rec["goal"] = goal
        rec["goal_met"] = value >= goal if higher_is_better else value <= goal
    return rec


# ---- sections -------------------------------------------------------------------------------

def finetune_variants(precision: str) -> list[Variant]:
    return [Variant(m, k, precision) for m in ("full", "lora") for k in ("vanilla", "protected", "reference")]


def active_variants(precision: str) -> list[Variant]:
    return [Variant(m, k, precision) for m in ("full", "lora") for k in ("protected", "active")]


def precision_variants() -> list[Variant]:
    return [Variant("full", "vanilla", "fp32"), Variant("full", "vanilla", "bf16")]


def finetune_section(results: dict[str, dict], precision: str, work: Workload, rounds: int) -> dict:
    sec = {"workload": _workload_dict(work, rounds), "variants": {}, "ratios": {}}
    for v in finetune_variants(precision):
        sec["variants"][v.key] = results[v.key]
    for mode in ("full", "lora"):
        van, pro, ref = (f"{mode}/{k}/{precision}" for k in ("vanilla", "protected", "reference"))
        sec["ratios"][f"{mode}: protected / vanilla"] = ratio(results, pro, van, goal=1.03)
        sec["ratios"][f"{mode}: secvec vanilla / Trainer reference"] = ratio(results, van, ref, goal=1.0)
    return sec


def active_section(results: dict[str, dict], precision: str, work: Workload, rounds: int) -> dict:
    sec = {"workload": _workload_dict(work, rounds), "variants": {}, "ratios": {}}
    for v in active_variants(precision):
        sec["variants"][v.key] = results[v.key]
    for mode in ("full", "lora"):
        sec["ratios"][f"{mode}: active / merged"] = ratio(results, f"{mode}/active/{precision}",
                                                          f"{mode}/protected/{precision}")
    return sec


def precision_train_section(results: dict[str, dict]) -> dict:
    keys = [v.key for v in precision_variants()]
    return {"variants": {k: results[k] for k in keys},
            "ratio": ratio(results, "full/vanilla/bf16", "full/vanilla/fp32")}


def _workload_dict(work: Workload, rounds: int) -> dict:
    return {"batch_size": work.batch_size, "max_length": work.max_length, "warmup_steps": work.warmup,
            "timed_steps_per_run": work.steps, "rounds": rounds, "lr_full": work.lr_full, "lr_lora": work.lr_lora}
