"""Typed configs for every command: YAML in, validated before any work starts, echoed out.

`load_config(Model, path, overrides)` reads YAML, applies `a.b=value` overrides (values parsed
as YAML), and validates; any problem is one `ConfigError` line naming the file and field.
Unknown keys are errors, so a typo never silently falls back to a default.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal, Optional, TypeVar, Union

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from secvec.errors import ConfigError

LLAMA_LINEAR = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", protected_namespaces=())


class ModelSpec(Strict):
    name: str = "smollm2-135m-instruct"
    dtype: Literal["float32", "bfloat16", "float16"] = "float32"
    adapter: Optional[str] = Field(None, description="PEFT adapter dir to apply on top (e.g. a task LoRA)")


class LoraSpec(Strict):
    r: int = Field(8, ge=1)
    alpha: float = 16.0
    dropout: float = Field(0.0, ge=0.0, lt=1.0)
    target_modules: list[str] = Field(default_factory=lambda: list(LLAMA_LINEAR))


class TrainConfig(Strict):
    """One supervised fine-tuning run (every stage uses this)."""

    mode: Literal["full", "lora"] = "full"
    lora: LoraSpec = Field(default_factory=LoraSpec)
    lr: float = Field(5e-5, gt=0)
    epochs: float = Field(1.0, gt=0)
    max_steps: Optional[int] = Field(None, ge=1)
    batch_size: int = Field(8, ge=1)
    grad_accum: int = Field(1, ge=1)
    max_length: int = Field(128, ge=8)
    weight_decay: float = Field(0.0, ge=0.0)
    warmup_steps: int = Field(0, ge=0)
    scheduler: Literal["constant", "linear", "cosine"] = "constant"
    max_grad_norm: Optional[float] = 1.0
    seed: int = 0
    checkpoint_every: Optional[int] = Field(None, ge=1, description="steps between resumable checkpoints")
    precision: Literal["auto", "fp32", "bf16"] = Field(
        "fp32", description="bf16 autocast (weights stay fp32); auto = bf16 where the hardware has it")


class VectorsConfig(Strict):
    """Security vectors: a LoRA adapter trained on harmful data, base frozen.

    Defaults measured on the demo (2026-11-26, one seed, bundled model): rank 32 (alpha 64) on
    all seven linear layers, 3 epochs at lr 2e-3 left 0% harmful after the 100-sample attack
    (86% vanilla) where the previous rank-8, five-module, 2-epoch lr-1e-3 recipe left 46%;
    benign task accuracy 34.0% vs 30.0%; borderline over-refusal 20% vs 10% (aligned 12%).
    """

    r: int = Field(32, ge=1)
    alpha: float = 64.0
    target_modules: list[str] = Field(default_factory=lambda: list(LLAMA_LINEAR))
    kl_weight: float = Field(1.0, ge=0.0, description="weight of KL(vectors on || off) on benign data")
    benign_batch_size: int = Field(2, ge=1)
    # One recipe for `secvec vectors train` and the experiments.
    train: TrainConfig = Field(default_factory=lambda: TrainConfig(lr=2e-3, epochs=3, batch_size=8, scheduler="cosine",
                                                                   warmup_steps=2, precision="auto"))


class VectorRecipe(Strict):
    """What the vectors are trained on and how, on top of the experiment's `vectors` config."""

    styles: list[str] = Field(default_factory=list, description="restyled copies of the vector pairs: "
                                                                "short, persona:servant, persona:devmode")
    n_per_style: int = Field(50, ge=1)
    vectors: dict[str, Any] = Field(default_factory=dict, description="overrides of the vectors config "
                                                                      "(r, alpha, target_modules, train.lr, ...)")

    def apply(self, base: "VectorsConfig") -> "VectorsConfig":
        merged = deep_merge(base.model_dump(), self.vectors)
        try:
            return VectorsConfig.model_validate(merged)
        except ValidationError as e:
            err = e.errors()[0]
            raise ConfigError(f"vector recipe: {'.'.join(str(x) for x in err['loc'])}: {err['msg']}") from None


class GenerationConfig(Strict):
    max_new_tokens: int = Field(48, ge=1)
    batch_size: int = Field(16, ge=1)
    do_sample: bool = False
    temperature: float = Field(1.0, gt=0)
    top_p: float = Field(1.0, gt=0, le=1)
    seed: int = 0
    precision: Literal["auto", "fp32", "bf16"] = "fp32"


class VectorsTrainCommand(Strict):
    model: ModelSpec = Field(default_factory=ModelSpec)
    harmful: str = Field(..., description="harmful prompt/response pairs (JSONL/CSV/JSON/datasets dir)")
    benign: str = Field("builtin", description="benign pairs for the KL term, or 'builtin' prompts answered by the model")
    vectors: VectorsConfig = Field(default_factory=VectorsConfig)
    output_dir: str = "runs/vectors"


class FinetuneCommand(Strict):
    model: ModelSpec = Field(default_factory=ModelSpec)
    data: str = Field(..., description="the user's fine-tuning data")
    vectors: Optional[str] = Field(None, description="security vectors dir: on and frozen during training")
    protect: Literal["merge", "active"] = "merge"
    anchor: Optional[str] = Field(None, description="the provider's safe prompt/answer pairs, trained with the "
                                  "vectors off at each step (VectorsOffAnchor); needs vectors and merge")
    anchor_weight: float = Field(1.0, gt=0)
    anchor_batch: int = Field(4, ge=1)
    anchor_cover: bool = Field(False, description="raise the anchor batch until the job rehearses every anchor "
                               "pair once (see secvec.vectors.protect.covering_batch)")
    project: Union[str, dict, None] = Field(None, description="the subspace guard (secvec.vectors.project): a mode "
                                            "(core, left, both) removes the job's update in the vectors' column/row "
                                            "spaces after every step; {mode, radius} clips it at radius x their norm. "
                                            "Best measured on the alignment delta: {mode: both, radius: 0.3}")
    stack: Optional[str] = Field(None, description="more vectors, on and frozen beside `vectors` at `stack_scale` "
                                 "(one adapter, the sum of both); the guard stays on `vectors` unless `guard_stack`. "
                                 "Measured: the provider's trained vectors at 0.25 beside the alignment delta "
                                 "hold the first steps of a job the delta alone leaks in (v32)")
    stack_scale: float = Field(0.25, gt=0)
    guard_stack: bool = Field(False, description="the guard keeps to the whole stack (`vectors` plus `stack`) "
                              "instead of `vectors` alone; needs `stack` and `project`. Measured best with the "
                              "delta and the provider's vectors at 0.25: lr x10 for 2 epochs 3.3% against 12% (v35)")
    train: TrainConfig = Field(default_factory=TrainConfig)
    output_dir: str = "runs/finetune"


class GenerateCommand(Strict):
    model: ModelSpec = Field(default_factory=ModelSpec)
    prompts: str = Field(..., description="prompts file (.txt one per line, JSONL, CSV)")
    vectors: Optional[str] = Field(None, description="generate with these vectors ON (to inspect them)")
    generation: GenerationConfig = Field(default_factory=GenerationConfig)
    output: str = "runs/generations.jsonl"


class ExportCommand(Strict):
    model: ModelSpec = Field(default_factory=ModelSpec)
    output_dir: str = "runs/export"
    what: Literal["merged", "adapter"] = "merged"


C = TypeVar("C", bound=BaseModel)


def _set(tree: dict[str, Any], dotted: str, value: Any) -> None:
    *parents, leaf = dotted.split(".")
    node = tree
    for key in parents:
        node = node.setdefault(key, {})
        if not isinstance(node, dict):
            raise ConfigError(f"override {dotted!r}: {key!r} is not a section")
    node[leaf] = value


def parse_overrides(overrides: list[str]) -> dict[str, Any]:
    tree: dict[str, Any] = {}
    for item in overrides:
        if "=" not in item:
            raise ConfigError(f"override {item!r} must look like key.sub=value")
        key, raw = item.split("=", 1)
        _set(tree, key.strip(), yaml.safe_load(raw) if raw else None)
    return tree


def deep_merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for k, v in extra.items():
        out[k] = deep_merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def read_yaml(path: str | Path) -> dict[str, Any]:
    p = Path(path)
    if not p.exists():
        raise ConfigError(f"config file not found: {p}")
    try:
        data = yaml.safe_load(p.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as e:
        raise ConfigError(f"{p}: not valid YAML ({str(e).splitlines()[0]})") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{p}: top level must be a mapping of settings")
    return data


def load_config(cls: type[C], path: str | Path | None = None, overrides: list[str] | None = None,
                **values: Any) -> C:
    """Validated config from YAML file + dotted overrides + keyword values (last wins)."""
    data = read_yaml(path) if path else {}
    data = deep_merge(data, parse_overrides(overrides or []))
    data = deep_merge(data, {k: v for k, v in values.items() if v is not None})
    try:
        return cls.model_validate(data)
    except ValidationError as e:
        err = e.errors()[0]
        where = ".".join(str(x) for x in err["loc"]) or "(top level)"
        src = f"{path}: " if path else ""
        raise ConfigError(f"{src}{where}: {err['msg']}" + (f" ({len(e.errors()) - 1} more)" if len(e.errors()) > 1 else "")) from None


def dump_config(config: BaseModel, path: str | Path) -> None:
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text(yaml.safe_dump(config.model_dump(mode="json"), sort_keys=False), encoding="utf-8")
