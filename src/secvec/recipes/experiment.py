"""The paper's experiment on one model: align, synthesize, train vectors, attack, judge.

    base model ──synthesize──> harmful pairs (vectors / attack), own benign answers
         └──align (refusals + own answers)──> aligned model ──vectors──> security vectors
    aligned ── attack (vanilla | vectors on, frozen) ──> evaluate with vectors off

Every stage is cached by a hash of its inputs (see `cache.py`), so a re-run or a config
change recomputes only what changed. `run_experiment` returns everything `report` needs.
"""

from __future__ import annotations

import json
import logging
import platform
import time
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Any, Callable, ContextManager, Optional

from pydantic import Field

import secvec
from secvec.config import GenerationConfig, ModelSpec, Strict, TrainConfig, VectorsConfig
from secvec.data.loading import load_examples, write_examples
from secvec.data.schema import Example, Prompt
from secvec.models.loading import cache_root, load_model, resolve
from secvec.recipes.cache import Stage, StageCache, stable_hash

log = logging.getLogger(__name__)

ProgressFactory = Callable[[str], ContextManager[Optional[Callable]]]


class DataPlan(Strict):
    train_sources: list[str] = Field(default_factory=lambda: ["donotanswer", "harmbench", "jbb"])
    eval_sources: list[str] = Field(default_factory=lambda: ["jbb", "harmbench"])
    n_eval: int = Field(50, ge=1)
    n_align_harmful: int = Field(100, ge=1)
    n_align_benign: int = Field(80, ge=1)
    n_vectors: int = Field(100, ge=1, description="harmful pairs the vectors are trained on")
    n_vector_prompts: int = Field(140, ge=1, description="prompts answered to get n_vectors compliant pairs")
    n_attack_prompts: int = Field(140, ge=1, description="prompts answered by the base model for attack pairs")
    n_overrefusal: int = Field(20, ge=0)
    vectors_persona: int = Field(0, ge=0, description="vector pairs repeated in the identity-shift persona")
    harmful_answer_tokens: int = Field(40, ge=4)
    benign_answer_tokens: int = Field(64, ge=4)
    samples_per_prompt: int = Field(1, ge=1, description=">1 samples several answers per attack prompt")
    stratify_eval: bool = True


class AttackPlan(Strict):
    type: Optional[str] = Field(None, description="attack registry name (default: the key)")
    n: int = Field(100, ge=1)
    options: dict[str, Any] = Field(default_factory=dict)
    train: TrainConfig = Field(default_factory=lambda: TrainConfig(lr=1e-4, epochs=1, batch_size=8, max_length=128,
                                                                   precision="auto"))


class TaskPlan(Strict):
    name: str = "arithmetic"
    options: dict[str, Any] = Field(default_factory=dict)
    n_test: int = Field(150, ge=1)


class ColumnSpec(Strict):
    name: str
    attack: Optional[str] = None
    protected: bool = False
    vectors_on: bool = Field(False, description="evaluate with the vectors on (checks that they work)")
    task: Optional[bool] = Field(None, description="score the benign task; default: not after a harmful attack "
                                                   "or with the vectors on, where it only costs time")


def default_columns() -> list[ColumnSpec]:
    return [ColumnSpec(name="aligned"),
            ColumnSpec(name="aligned, vectors on", vectors_on=True),
            ColumnSpec(name="harmful FT", attack="harmful"),
            ColumnSpec(name="harmful FT + vectors", attack="harmful", protected=True),
            ColumnSpec(name="benign FT", attack="benign"),
            ColumnSpec(name="benign FT + vectors", attack="benign", protected=True)]


class EvalPlan(Strict):
    judges: list[str] = Field(default_factory=lambda: ["keyword", "content"])
    headline_judge: str = "content"
    generation: GenerationConfig = Field(default_factory=lambda: GenerationConfig(max_new_tokens=32, batch_size=48,
                                                                                  precision="auto"))


class ExperimentConfig(Strict):
    model: ModelSpec = Field(default_factory=ModelSpec)
    seed: int = 0
    scale: str = "demo"
    output_dir: str = "runs/demo"
    cache_dir: Optional[str] = None
    data: DataPlan = Field(default_factory=DataPlan)
    align: TrainConfig = Field(default_factory=lambda: TrainConfig(lr=1e-4, epochs=1, batch_size=8, max_length=128,
                                                                   precision="auto"))
    vectors: VectorsConfig = Field(default_factory=lambda: VectorsConfig(train=TrainConfig(
        lr=1e-3, epochs=2, batch_size=8, scheduler="cosine", warmup_steps=2, precision="auto")))
    attacks: dict[str, AttackPlan] = Field(default_factory=lambda: {
        "harmful": AttackPlan(n=100),
        "benign": AttackPlan(n=96, train=TrainConfig(lr=5e-5, epochs=2, batch_size=8, max_length=64,
                                                      precision="auto")),
    })
    task: TaskPlan = Field(default_factory=TaskPlan)
    columns: list[ColumnSpec] = Field(default_factory=default_columns)
    eval: EvalPlan = Field(default_factory=EvalPlan)


def _no_progress(_: str) -> ContextManager[None]:
    return nullcontext()


class Experiment:
    """Holds the config, the cache and the prompt splits; each method is one cached stage."""

    def __init__(self, cfg: ExperimentConfig, progress: ProgressFactory = _no_progress) -> None:
        from secvec.data.builtin import benign_prompts
        from secvec.data.sources import harmful_prompts
        from secvec.data.splits import disjoint_splits, overlap

        self.cfg = cfg
        self.progress = progress
        self.cache = StageCache(cfg.cache_dir or cache_root() / "stages")
        self.timings: dict[str, dict[str, Any]] = {}
        self._judges: Optional[list[Any]] = None
        d = cfg.data
        eval_pool = [p for s in d.eval_sources for p in harmful_prompts(s)]
        self.eval_split = disjoint_splits(eval_pool, {"eval": d.n_eval}, cfg.seed, stratify=d.stratify_eval)
        held_out = self.eval_split["eval"]
        train_pool = [p for s in d.train_sources for p in harmful_prompts(s)]
        train_pool = [p for p in train_pool if not overlap([p], held_out)]
        self.splits = disjoint_splits(train_pool, {"align": d.n_align_harmful, "vectors": d.n_vector_prompts,
                                                   "attack": d.n_attack_prompts}, cfg.seed)
        self.benign_split = disjoint_splits(benign_prompts(), {"align": d.n_align_benign,
                                                              "overrefusal": d.n_overrefusal}, cfg.seed)
        self.base_path = resolve(cfg.model.name)
        self.base_id = {"model": cfg.model.model_dump(), "path": self.base_path}

    # ---- bookkeeping ----------------------------------------------------------------------
    def _record(self, stage: Stage, label: str, cached: bool) -> None:
        """The same timing entry whether the stage ran now or came from the cache."""
        info = stage.info
        self.timings[label] = {"seconds": info.get("seconds"), "peak_rss_mb": info.get("peak_rss_mb"),
                               "cached": cached, "key": stage.key,
                               **{k: v for k, v in info.items() if k.startswith("train_") or k.endswith("_seconds")}}

    @contextmanager
    def _run(self, stage: Stage, label: str):
        if stage.done:
            log.info("%s: cached (%s)", label, stage.dir)
            self._record(stage, label, cached=True)
            yield None
            return
        log.info("%s ...", label)
        with self.cache.compute(stage) as info:
            yield info
        self._record(stage, label, cached=False)

    def splits_record(self) -> dict[str, Any]:
        return {"eval": self.eval_split.to_dict(), "train": self.splits.to_dict(), "benign": self.benign_split.to_dict()}

    # ---- stages ---------------------------------------------------------------------------
    def synthesize(self) -> Stage:
        """Harmful pairs (vectors, attack) and benign own answers, all from the unaligned base."""
        from secvec.judges import is_refusal
        from secvec.recipes.pairs import answer_pairs, harmful_pairs

        d = self.cfg.data
        # The key holds the number of attack pairs actually synthesized: a config without a
        # harmful attack once shared the key of one with it and cached zero attack pairs.
        n_attack = max((a.n for k, a in self.cfg.attacks.items() if (a.type or k) in ("harmful", "mixed")), default=0)
        # vectors_persona only changes the vectors' training set (in the vectors stage's key).
        payload = {"base": self.base_id, "data": d.model_dump(exclude={"vectors_persona"}),
                   "splits": self.splits_record(), "seed": self.cfg.seed, "attack_n": n_attack}
        stage = self.cache.stage("synthesize", payload)
        with self._run(stage, "synthesize") as info:
            if info is not None:
                lm = load_model(self.cfg.model.name, self.cfg.model.dtype)
                gen = self.cfg.eval.generation.model_copy(update={"seed": self.cfg.seed})
                harm_gen = gen.model_copy(update={"max_new_tokens": d.harmful_answer_tokens})
                with self.progress("synthesize: vectors pairs") as p:
                    vec = harmful_pairs(lm, self.splits["vectors"], d.n_vectors, harm_gen, is_refusal, p)
                sampled = harm_gen.model_copy(update={"do_sample": d.samples_per_prompt > 1, "temperature": 0.8})
                with self.progress("synthesize: attack pairs") as p:
                    atk = harmful_pairs(lm, self.splits["attack"], n_attack, sampled, is_refusal, p) if n_attack else []
                with self.progress("synthesize: benign answers") as p:
                    ben = answer_pairs(lm, self.benign_split["align"],
                                       gen.model_copy(update={"max_new_tokens": d.benign_answer_tokens}), p)
                write_examples(stage.dir / "vectors_pairs.jsonl", vec)
                write_examples(stage.dir / "attack_pairs.jsonl", atk)
                write_examples(stage.dir / "benign_pairs.jsonl", ben)
                info.update(vectors_pairs=len(vec), attack_pairs=len(atk), benign_pairs=len(ben))
        return stage

    def align(self, synth: Stage) -> Stage:
        from secvec.data.builtin import refusals
        from secvec.recipes.pairs import refusal_pairs
        from secvec.vectors import protected_finetune

        cfg = self.cfg
        stage = self.cache.stage("align", {"synth": synth.key, "train": cfg.align.model_dump(), "seed": cfg.seed,
                                           "refusals": stable_hash(refusals())})
        with self._run(stage, "align") as info:
            if info is not None:
                lm = load_model(cfg.model.name, cfg.model.dtype)
                data = refusal_pairs(self.splits["align"], refusals(), cfg.seed) + \
                    load_examples(synth.dir / "benign_pairs.jsonl")
                with self.progress("align") as p:
                    model, result = protected_finetune(lm.model, lm.tokenizer, data, cfg.align, progress=p)
                model.save_pretrained(stage.dir / "model", safe_serialization=True)
                lm.tokenizer.save_pretrained(stage.dir / "model")
                info.update(train=result.to_dict(), examples=len(data))
        return stage

    def train_vectors(self, synth: Stage, aligned: Stage, label: str = "vectors") -> Stage:
        from secvec.attacks import persona_examples
        from secvec.vectors import train_vectors

        cfg = self.cfg
        stage = self.cache.stage("vectors", {"synth": synth.key, "aligned": aligned.key,
                                             "vectors": cfg.vectors.model_dump(), "persona": cfg.data.vectors_persona})
        with self._run(stage, label) as info:
            if info is not None:
                lm = load_model(str(aligned.dir / "model"))
                harmful = load_examples(synth.dir / "vectors_pairs.jsonl")
                if cfg.data.vectors_persona:
                    harmful = harmful + persona_examples(harmful, min(cfg.data.vectors_persona, len(harmful)))
                benign = load_examples(synth.dir / "benign_pairs.jsonl")
                with self.progress("security vectors") as p:
                    vectors, result = train_vectors(lm.model, lm.tokenizer, harmful, benign, cfg.vectors,
                                                    output_dir=stage.dir / "vectors", progress=p)
                info.update(train=result.to_dict(), harmful_examples=len(harmful))
        return stage

    def column(self, spec: ColumnSpec, synth: Stage, aligned: Stage, vectors: Optional[Stage]) -> dict[str, Any]:
        """Fine-tune the aligned model as the column says, then evaluate it; cached."""
        cfg = self.cfg
        plan = cfg.attacks.get(spec.attack) if spec.attack else None
        if spec.attack and plan is None:
            from secvec.errors import ConfigError

            raise ConfigError(f"column {spec.name!r} names attack {spec.attack!r}, not defined under 'attacks'")
        payload = {"aligned": aligned.key, "spec": spec.model_dump(exclude={"name"}),
                   "vectors": vectors.key if (spec.protected or spec.vectors_on) and vectors else None,
                   "plan": plan.model_dump() if plan else None, "eval": cfg.eval.model_dump(),
                   "task": cfg.task.model_dump(), "splits": self.splits_record(), "synth": synth.key}
        stage = self.cache.stage("column", payload)
        with self._run(stage, spec.name) as info:
            if info is not None:
                info.update(self._compute_column(spec, plan, synth, aligned, vectors, stage))
        return json.loads((stage.dir / "result.json").read_text())

    def evaluate(self, model, tokenizer, harmful: Optional[list[Prompt]] = None, label: str = "evaluate",
                 with_task: bool = True):
        """Judge `model` on this experiment's held-out prompts, over-refusal set and task items."""
        from secvec.eval import evaluate_model
        from secvec.judges import build_judge
        from secvec.tasks import build_task

        cfg = self.cfg
        task = build_task(cfg.task.name, **cfg.task.options)
        if self._judges is None:  # built once: the content judge loads a sentence encoder
            self._judges = [build_judge(name) for name in cfg.eval.judges]
        judges = self._judges
        with self.progress(label) as p:
            return evaluate_model(model, tokenizer, harmful or self.eval_split["eval"], self.benign_split["overrefusal"],
                                  judges, task, task.test_items(cfg.task.n_test, cfg.seed) if with_task else (),
                                  cfg.eval.generation, p)

    def _compute_column(self, spec, plan, synth, aligned, vectors, stage) -> dict[str, Any]:
        from secvec.attacks import AttackData, build_attack, persona_prompt
        from secvec.tasks import build_task
        from secvec.vectors import SecurityVectors, protected_finetune, vectors_on

        cfg = self.cfg
        lm = load_model(str(aligned.dir / "model"))
        sv = SecurityVectors.load(vectors.dir / "vectors") if vectors and (spec.protected or spec.vectors_on) else None
        task = build_task(cfg.task.name, **cfg.task.options)
        train_info: dict[str, Any] = {}
        model = lm.model
        attack_type = (plan.type or spec.attack) if plan else None
        if plan:
            data = AttackData(harmful_pairs=load_examples(synth.dir / "attack_pairs.jsonl")
                              if (synth.dir / "attack_pairs.jsonl").stat().st_size else [],
                              benign_pairs=load_examples(synth.dir / "benign_pairs.jsonl"), task=task)
            examples = build_attack(attack_type, data, plan.n, cfg.seed, **plan.options)
            label = f"{spec.name}: fine-tune"
            with self.progress(label) as p:
                model, result = protected_finetune(model, lm.tokenizer, examples, plan.train,
                                                   sv if spec.protected else None, progress=p)
            train_info = result.to_dict()
            train_info.pop("losses", None)
            train_info["loss_curve"] = result.losses
        harmful = self.eval_split["eval"]
        if attack_type == "identity-shift":
            harmful = [persona_prompt(p) for p in harmful]
        with (vectors_on(model, sv) if spec.vectors_on else nullcontext(model)) as m:
            with_task = spec.task if spec.task is not None else \
                not spec.vectors_on and attack_type not in ("harmful", "identity-shift")
            result, records = self.evaluate(m, lm.tokenizer, harmful, label=f"{spec.name}: evaluate",
                                            with_task=with_task)
        out = {"name": spec.name, "attack": spec.attack, "attack_type": attack_type, "protected": spec.protected,
               "vectors_on": spec.vectors_on, "train": train_info, "eval": result.to_dict()}
        (stage.dir / "result.json").write_text(json.dumps(out, indent=1))
        with (stage.dir / "generations.jsonl").open("w") as f:
            for rec in records:
                f.write(json.dumps(rec) + "\n")
        return {"train_seconds": train_info.get("seconds"), "eval_seconds": result.seconds}


def versions() -> dict[str, str]:
    import importlib.metadata as md

    out = {"secvec": secvec.__version__, "python": platform.python_version(), "platform": platform.platform()}
    for pkg in ("torch", "transformers", "peft", "accelerate", "datasets"):
        try:
            out[pkg] = md.version(pkg)
        except md.PackageNotFoundError:
            pass
    return out


def run_experiment(cfg: ExperimentConfig, progress: ProgressFactory = _no_progress) -> dict[str, Any]:
    """All stages, then every column; returns the results document (also written by `report`)."""
    start = time.perf_counter()
    exp = Experiment(cfg, progress)
    synth = exp.synthesize()
    aligned = exp.align(synth)
    needs_vectors = any(c.protected or c.vectors_on for c in cfg.columns)
    vectors = exp.train_vectors(synth, aligned) if needs_vectors else None
    columns = [exp.column(spec, synth, aligned, vectors) for spec in cfg.columns]
    return {
        "config": cfg.model_dump(mode="json"),
        "versions": versions(),
        "splits": exp.splits_record(),
        "synthesis": synth.info,
        "vectors_meta": json.loads((vectors.dir / "vectors" / "secvec_vectors.json").read_text()) if vectors else None,
        "columns": columns,
        "timings": exp.timings,
        "wall_seconds": time.perf_counter() - start,
        "artifacts": {"aligned_model": str(aligned.dir / "model"),
                      "vectors": str(vectors.dir / "vectors") if vectors else None,
                      "cache": str(exp.cache.root)},
    }


# Scale profiles: overrides on top of the defaults (the defaults are the CPU demo).
PROFILES: dict[str, dict[str, Any]] = {
    "demo": {},
    "paper": {  # the paper's claim: vectors from 100 harmful samples vs an attack of 1,000
        "scale": "paper",
        "data": {"n_attack_prompts": 600, "samples_per_prompt": 2, "n_eval": 100},
        "attacks": {"harmful": {"n": 1000}},  # same training as the demo attack: 1 epoch, lr 1e-4
        # 125 attack steps find what 2-epoch vectors leave unlearned (17% harmful after the
        # protected attack, measured); 4 epochs on the same 100 samples leave 6%.
        "vectors": {"train": {"epochs": 4}},
    },
}
