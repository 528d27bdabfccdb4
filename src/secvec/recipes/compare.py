"""`secvec compare`: several defenses against the same attacks, with the same budgets, one table.

Every defense fine-tunes the same aligned model on the same attack data with the same
training config, so the rows differ only in the defense. Rows are `Point`s in the experiment's
stage cache (shared with `immunize-report`), and the results document has the shape `demo`'s
has (`columns`), so the same report writer renders it.
"""

from __future__ import annotations

import time
from typing import Any, Optional

from pydantic import Field, model_validator

from secvec.errors import ConfigError
from secvec.recipes.experiment import (ColumnSpec, Experiment, ExperimentConfig, ProgressFactory, _no_progress,
                                       versions)
from secvec.recipes.parallel import auto_workers, prefetch
from secvec.recipes.provider import DefenseSpec, Point, Provider, seed_points


def default_defenses() -> list[DefenseSpec]:
    return [DefenseSpec(name=n) for n in ("none", "safety-mix", "security-vectors", "lisa")]


class CompareConfig(ExperimentConfig):
    output_dir: str = "runs/compare"
    columns: list[ColumnSpec] = Field(default_factory=list, description="not used by compare")
    defenses: list[DefenseSpec] = Field(default_factory=default_defenses, min_length=1)
    run_attacks: list[str] = Field(default_factory=lambda: ["harmful", "benign"], min_length=1,
                                   description="attack plans (under 'attacks') every defense faces")
    seeds: Optional[list[int]] = Field(None, min_length=1, description="run every (attack, defense) row once per "
                                       "seed (the defense's and the attack's): mean and min-max over seeds")

    @model_validator(mode="after")
    def _attacks_defined(self) -> "CompareConfig":
        missing = [a for a in self.run_attacks if a not in self.attacks]
        if missing:
            raise ConfigError(f"run_attacks {missing} not defined under 'attacks' (defined: {', '.join(self.attacks)})")
        return self


def label(defense: DefenseSpec, attack: str) -> str:
    opts = ", ".join(f"{k}={v}" for k, v in defense.options.items())
    return f"{attack} FT, {defense.name}" + (f" ({opts})" if opts else "")


def run_compare(cfg: CompareConfig, progress: ProgressFactory = _no_progress) -> dict[str, Any]:
    """The aligned model, then every (attack, defense) pair; returns a `demo`-shaped results document."""
    start = time.perf_counter()
    exp = Experiment(cfg, progress)
    synth = exp.synthesize()
    aligned = exp.align(synth)
    provider = Provider(exp, synth, aligned)
    rows = []
    for attack in cfg.run_attacks:
        plan = cfg.attacks[attack]
        plan = plan.model_copy(update={"type": plan.type or attack})
        # the task is scored where fine-tuning could have changed it for a benign reason
        measure = "harm" if plan.type in ("harmful", "identity-shift") else "all"
        rows += [(attack, Point(label(d, attack), d.name, d.options, plan, measure=measure)) for d in cfg.defenses]
    seeds = cfg.seeds or [None]
    parallel = prefetch(provider, [Point("aligned")] + [p for _, point in rows for p in seed_points(point, seeds)],
                        auto_workers(cfg.workers), progress)
    columns = [{**provider.run(Point("aligned")), "attack_name": None}]
    for attack, point in rows:
        columns.append({**provider.run_seeds(point, seeds, cfg.eval.headline_judge), "attack_name": attack})
    return {
        "command": "compare",
        "config": cfg.model_dump(mode="json"),
        "versions": versions(),
        "splits": exp.splits_record(),
        "columns": columns,
        "timings": exp.timings,
        "parallel": parallel,
        "wall_seconds": time.perf_counter() - start,
        "artifacts": {"aligned_model": str(aligned.dir / "model"), "cache": str(exp.cache.root)},
    }
