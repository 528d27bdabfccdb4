"""The fine-tuning provider: serves the aligned model and fine-tunes users' data under a defense.

`immunize-report` and `compare` both ask the same question many times: "fine-tune the aligned
model on this attack, under this defense, then judge the served model". A `Point` says which;
`Provider.run` answers it as one cached stage of the experiment (same cache, same timings),
so points shared between commands, or between the conditions of one report, run once.

The defense's own data come from `ExperimentInputs`: refusal pairs from the alignment split,
the alignment set, and security vectors from the cached vectors stage. For the generalization
condition they can be restricted to some prompt sources (one domain), in which case the
vectors are trained on that domain's pairs only, in a stage of their own.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any, Literal, Optional, Sequence

from pydantic import Field, model_validator

from secvec.config import Strict, VectorRecipe
from secvec.data.loading import load_examples, write_examples
from secvec.data.schema import Example, Prompt
from secvec.errors import DataError
from secvec.models.loading import load_model
from secvec.recipes.cache import Stage, stable_hash
from secvec.recipes.experiment import POINT_CODE, AttackPlan, Experiment
from secvec.vectors.core import SecurityVectors, examples_hash


def in_sources(items: Sequence[Any], sources: Optional[Sequence[str]]) -> list[Any]:
    """Prompts or examples whose `source` is one of `sources` (all of them when None)."""
    return list(items) if sources is None else [x for x in items if x.source in sources]


class ExperimentInputs:
    """`DefenseInputs` from an experiment's cached stages, optionally one domain's sources only.

    `used` records what a defense drew, by content hash or stage key, so a point's cache key
    changes exactly when the defense's data change (and not for a defense that drew nothing).
    """

    def __init__(self, exp: Experiment, synth: Stage, aligned: Stage, sources: Optional[Sequence[str]] = None,
                 limit: Optional[int] = None, seed: Optional[int] = None) -> None:
        self.exp, self.synth, self.aligned = exp, synth, aligned
        self.seed = seed
        self.sources = sorted(sources) if sources is not None else None
        self.limit = limit
        self.used: dict[str, str] = {}

    def _domain(self, items: Sequence[Any], what: str) -> list[Any]:
        kept = in_sources(items, self.sources)[: self.limit]
        if not kept:
            raise DataError(f"no {what} from sources {self.sources}; name sources the experiment's "
                            "data.train_sources include")
        return kept

    def refusal_pairs(self) -> list[Example]:
        from secvec.data.builtin import refusals
        from secvec.recipes.pairs import refusal_pairs

        pairs = refusal_pairs(self._domain(self.exp.splits["align"], "alignment prompts"), refusals(),
                              self.exp.cfg.seed)
        self.used["refusal_pairs"] = examples_hash(pairs)
        return pairs

    def alignment_pairs(self) -> list[Example]:
        pairs = self.refusal_pairs() + self.exp.helpful_pairs(self.synth)
        self.used["alignment_pairs"] = examples_hash(pairs)
        return pairs

    def security_vectors(self, recipe: Optional[VectorRecipe] = None) -> SecurityVectors:
        synth = self.synth if self.sources is None else self._domain_synth()
        label = "vectors" + (f" ({'+'.join(self.sources)})" if self.sources else "") + \
            (f" {'+'.join(recipe.styles)}" if recipe and recipe.styles else "") + \
            (f" seed {self.seed}" if self.seed is not None else "")
        stage = self.exp.train_vectors(synth, self.aligned, label, recipe, self.seed)
        self.used["vectors"] = stage.key
        return SecurityVectors.load(stage.dir / "vectors")

    def vector_pairs(self) -> list[Example]:
        """The plain harmful pairs the vectors were trained on (replayed when vectors adapt per job)."""
        return load_examples(self.synth.dir / "vectors_pairs.jsonl")

    def benign_pairs(self) -> list[Example]:
        return load_examples(self.synth.dir / "benign_pairs.jsonl")

    def sensitive_pairs(self) -> list[Example]:
        """The base model's answers to the built-in sensitive-topic prompts, as synthesis answers the
        alignment set's benign prompts; a stage of its own, computed only when a defense asks."""
        from secvec.data.builtin import sensitive_prompts
        from secvec.recipes.experiment import SYNTH_CODE
        from secvec.recipes.pairs import answer_pairs

        exp = self.exp
        prompts = sensitive_prompts()
        gen = exp.cfg.eval.generation.model_copy(update={"seed": exp.cfg.seed,
                                                         "max_new_tokens": exp.cfg.data.benign_answer_tokens})
        stage = exp.cache.stage("sensitive", {"base": exp.base_id, "prompts": stable_hash([p.text for p in prompts]),
                                              "generation": gen.model_dump()}, SYNTH_CODE)
        with exp._run(stage, "sensitive-topic answers") as info:
            if info is not None:
                lm = load_model(exp.cfg.model.name, exp.cfg.model.dtype)
                with exp.progress("synthesize: sensitive-topic answers") as p:
                    pairs = answer_pairs(lm, prompts, gen, p)
                write_examples(stage.dir / "sensitive_pairs.jsonl", pairs)
                info.update(sensitive_pairs=len(pairs))
        self.used["sensitive_pairs"] = stage.key
        return load_examples(stage.dir / "sensitive_pairs.jsonl")

    def pre_alignment_model(self) -> Optional[str]:
        """The experiment aligned its base model itself, so it has the weights from before."""
        self.used["pre_alignment_model"] = self.exp.base_id
        return self.exp.cfg.model.name

    def screen_prompts(self) -> tuple[list[Prompt], list[Prompt]]:
        """(harmful, benign) prompts the provider owns, for a harmful-request screen; none are evaluated."""
        from secvec.data.builtin import benign_prompts, borderline_prompts

        harmful = list(self.exp.splits["align"]) + list(self.exp.splits["vectors"])
        benign_taken = {p.text for p in self.exp.benign_split["overrefusal"]}
        return harmful, [p for p in benign_prompts() if p.text not in benign_taken] + borderline_prompts()

    def _domain_synth(self) -> Stage:
        """The synthesized pairs with the harmful ones cut to this domain: what `train_vectors` reads."""
        exp = self.exp
        stage = exp.cache.stage("domain", {"synth": self.synth.key, "sources": self.sources, "limit": self.limit})
        with exp._run(stage, f"domain pairs ({'+'.join(self.sources or [])})") as info:
            if info is not None:
                vec = self._domain(load_examples(self.synth.dir / "vectors_pairs.jsonl"), "vector pairs")
                write_examples(stage.dir / "vectors_pairs.jsonl", vec)
                write_examples(stage.dir / "benign_pairs.jsonl", load_examples(self.synth.dir / "benign_pairs.jsonl"))
                info.update(vectors_pairs=len(vec))
        return stage


def attack_pairs(synth: Stage, sources: Optional[Sequence[str]] = None) -> list[Example]:
    """The synthesized harmful attack pairs, optionally only those from `sources`."""
    path = synth.dir / "attack_pairs.jsonl"
    return in_sources(load_examples(path), sources) if path.stat().st_size else []


def domain_size(exp: Experiment, synth: Stage, sources: Sequence[str]) -> int:
    """How many vector pairs and alignment prompts a domain has (the smaller): its largest fair `limit`."""
    vec = in_sources(load_examples(synth.dir / "vectors_pairs.jsonl"), sources)
    return min(len(vec), len(in_sources(exp.splits["align"], sources)))


class DefenseSpec(Strict):
    """A defense by name with its options (YAML may give the bare name); checked when the config loads."""

    name: str
    options: dict[str, Any] = Field(default_factory=dict)
    label: Optional[str] = Field(None, description="name in tables (default: the name and recipe)")

    @model_validator(mode="before")
    @classmethod
    def _bare_name(cls, value: Any) -> Any:
        return {"name": value} if isinstance(value, str) else value

    @model_validator(mode="after")
    def _known(self) -> "DefenseSpec":
        from secvec.defenses import build_defense

        build_defense(self.name, **self.options)  # unknown name or option: ConfigError now, not mid-run
        return self


@dataclass
class Point:
    """One fine-tune + evaluate: the defense, the attack and its budget, and what is measured."""

    label: str
    defense: str = "none"
    options: dict[str, Any] = field(default_factory=dict)
    attack: Optional[AttackPlan] = None          # None: the served model before any fine-tuning
    attack_sources: Optional[list[str]] = None   # harmful attack pairs from these sources only
    defense_sources: Optional[list[str]] = None  # the defense's harmful data from these sources only
    defense_limit: Optional[int] = None          # ... and at most this many of each kind
    harmful: Optional[list[Prompt]] = None       # evaluation prompts (default: the experiment's eval split)
    seed: Optional[int] = None                   # attack sample + training seed, vectors seed (default: config's)
    measure: Literal["all", "harm", "task"] = "all"  # "harm": no task items; "task": task items only
    heldout: list[Example] = field(default_factory=list)  # benign text for perplexity (if any)
    then: Optional[AttackPlan] = None            # a second job on the first one's output ...
    then_defense: Optional[str] = None           # ... under this defense ("none": vanilla; None: the same)
    vectors_on: bool = False                     # evaluate with the provider's vectors on (checks that they work)


def seed_points(point: Point, seeds: Sequence[Optional[int]]) -> list[Point]:
    """The point once per seed (labelled by seed when there are several)."""
    from dataclasses import replace

    return [replace(point, seed=s, label=f"{point.label} (seed {s})") if len(seeds) > 1 else replace(point, seed=s)
            for s in seeds]


def defense_code(defense) -> tuple[str, ...]:
    """The source files of a defense's class and its secvec bases (part of its points' code version)."""
    import inspect
    from pathlib import Path

    import secvec

    root = Path(secvec.__file__).parent
    files = []
    for cls in type(defense).__mro__:
        try:
            path = Path(inspect.getfile(cls))
        except TypeError:
            continue
        if root in path.parents:
            files.append(path.relative_to(root).as_posix())
    return tuple(dict.fromkeys(files))


class Provider:
    """The aligned model and the experiment's data, ready to run points against."""

    def __init__(self, exp: Experiment, synth: Stage, aligned: Stage) -> None:
        self.exp, self.synth, self.aligned = exp, synth, aligned

    def run_seeds(self, point: Point, seeds: Sequence[Optional[int]], judge: str) -> dict[str, Any]:
        """The point once per seed: the first seed's full result, plus `seeds` (every seed's figures)
        and `spread` (mean, min-max, pooled interval) when there is more than one."""
        from secvec.eval.spread import aggregate, point_row

        runs = [(s, self.run(p)) for s, p in zip(seeds, seed_points(point, seeds))]
        out = {**runs[0][1], "name": point.label}
        if len(runs) > 1:
            out["seeds"] = [{"seed": s, **point_row(r, judge)} for s, r in runs]
            out["spread"] = aggregate(out["seeds"])
        return out

    def prepare(self, point: Point):
        """The point's defense with its data drawn (training its vectors if not cached), and the inputs."""
        from secvec.defenses import build_defense

        defense = build_defense(point.defense, **point.options)
        inputs = ExperimentInputs(self.exp, self.synth, self.aligned, point.defense_sources, point.defense_limit,
                                  seed=point.seed)
        defense.prepare(inputs)
        self._check_vectors = inputs.security_vectors() if point.vectors_on else None
        return defense, inputs

    def cached(self, point: Point, prepare_only: bool = False) -> bool:
        """Whether the point (or only its defense's stages) can be read from the cache without computing."""
        from secvec.recipes.experiment import NotCached

        with self.exp.cached_only():
            try:
                self.prepare(point) if prepare_only else self.run(point)
            except NotCached:
                return False
        return True

    def run(self, point: Point) -> dict[str, Any]:
        """The point's result (`name`, `defense`, `train`, `eval`, `perplexity`), computed or cached."""
        exp, cfg = self.exp, self.exp.cfg
        if point.attack and not point.attack.type:
            raise ValueError(f"point {point.label!r}: the attack plan must name its type")
        defense, inputs = self.prepare(point)
        harmful = point.harmful if point.harmful is not None else exp.eval_split["eval"]
        payload = {"aligned": self.aligned.key, "synth": self.synth.key, "defense": defense.describe(),
                   "defense_data": inputs.used, "attack": point.attack.model_dump() if point.attack else None,
                   "attack_sources": point.attack_sources, "harmful": stable_hash([asdict(p) for p in harmful]),
                   "measure": point.measure, "heldout": examples_hash(point.heldout) if point.heldout else None,
                   "eval": cfg.eval.model_dump(), "task": cfg.task.model_dump(),
                   "benign": exp.benign_split.to_dict(), "seed": cfg.seed, "point_seed": point.seed,
                   "then": point.then.model_dump() if point.then else None, "then_defense": point.then_defense,
                   "vectors_on": point.vectors_on,
                   "borderline": exp.splits_record()["borderline"]}
        stage = exp.cache.stage("point", payload, POINT_CODE + defense_code(defense))
        with exp._run(stage, point.label) as info:
            if info is not None:
                out, records = self._compute(point, defense, harmful)
                out["defense_data"] = inputs.used
                (stage.dir / "result.json").write_text(json.dumps(out, indent=1))
                with (stage.dir / "generations.jsonl").open("w") as f:
                    f.writelines(json.dumps(rec) + "\n" for rec in records)
                info.update(train_seconds=out["train"].get("seconds"), eval_seconds=out["eval"]["seconds"])
        result = json.loads((stage.dir / "result.json").read_text())
        result["name"] = point.label
        result["generations"] = str(stage.dir / "generations.jsonl")  # the reports keep a copy
        return result

    def _compute(self, point: Point, defense, harmful: list[Prompt]) -> tuple[dict[str, Any], list[dict]]:
        from secvec.attacks import persona_prompt
        from secvec.eval.perplexity import perplexity

        exp = self.exp
        lm = load_model(str(self.aligned.dir / "model"))
        model = defense.deployed(lm.model)
        train_info: dict[str, Any] = {}
        if point.attack:
            model, train_info = self._job(point, point.attack, defense, model, lm.tokenizer, "fine-tune")
            last = point.attack
            if point.then:  # latent harm, or two jobs in a row: a second job on the first one's output
                second = defense if point.then_defense is None else self._defense(point.then_defense, point)
                model, then_info = self._job(point, point.then, second, model, lm.tokenizer, "second job")
                train_info = {**then_info, "first_job": train_info}
                last = point.then
            if last.type == "identity-shift":
                harmful = [persona_prompt(p, last.options.get("persona", "aoa")) for p in harmful]
        from secvec.vectors import vectors_on

        if point.measure == "task":
            result, records = self._task_only(model, lm.tokenizer, f"{point.label}: evaluate")
        else:
            # the vectors-on check asks only whether they make the model harmful: no refusal prompts
            # (a third of the demo's critical path after the vectors, for figures nobody reads)
            unasked = {"benign": [], "borderline": []} if point.vectors_on else {}
            with vectors_on(model, self._check_vectors, exact=True) as m:
                result, records = exp.evaluate(m, lm.tokenizer, harmful, label=f"{point.label}: evaluate",
                                               with_task=point.measure == "all", **unasked)
        ppl = perplexity(model, lm.tokenizer, point.heldout) if point.heldout else None
        return {"defense": defense.describe(), "attack": point.attack.model_dump() if point.attack else None,
                "train": train_info, "eval": result.to_dict(), "perplexity": ppl}, records

    def _defense(self, name: str, point: Point):
        from secvec.defenses import build_defense

        defense = build_defense(name)
        defense.prepare(ExperimentInputs(self.exp, self.synth, self.aligned, seed=point.seed))
        return defense

    def _job(self, point: Point, plan: AttackPlan, defense, model, tokenizer, what: str):
        """One fine-tuning job of `plan` under `defense`, seeded by the point; returns (model, train info)."""
        exp = self.exp
        examples = exp.attack_examples(self.synth, plan, plan.type, point.seed, point.attack_sources)
        train_cfg = plan.train if point.seed is None else plan.train.model_copy(update={"seed": point.seed})
        with exp.progress(f"{point.label}: {what}") as p:
            model, result = defense.finetune(model, tokenizer, examples, train_cfg, progress=p)
        info = result.to_dict()
        info["loss_curve"] = info.pop("losses")
        return model, info

    def _task_only(self, model, tokenizer, label: str):
        from secvec.eval import evaluate_model
        from secvec.tasks import build_task

        cfg = self.exp.cfg
        task = build_task(cfg.task.name, **cfg.task.options)
        with self.exp.progress(label) as p:
                return evaluate_model(model, tokenizer, [], [], [], task, task.test_items(cfg.task.n_test, cfg.seed),
                                  cfg.eval.generation, p)
