"""Security vectors: on and frozen while the user's data trains, off in the served model."""

from __future__ import annotations

from typing import Any, Literal, Optional, get_args

from pydantic import ValidationError

from secvec.config import VectorRecipe, VectorsConfig
from secvec.defenses.base import DEFENSES, Defense, DefenseInputs
from secvec.errors import ConfigError
from secvec.vectors.core import SecurityVectors
from secvec.vectors.project import ProjectOption, guard_spec
from secvec.vectors.protect import VectorsOffAnchor, protected_finetune

AnchorData = Literal["safe", "alignment", "recovery", "recovery-sensitive"]


@DEFENSES.register("security-vectors")
class SecurityVectorsDefense(Defense):
    """`recipe` (styles, vectors overrides; see `VectorRecipe`) picks which vectors the provider trains.

    `anchor` > 0 adds `VectorsOffAnchor` at that weight: each step also trains `anchor_batch` of
    the provider's alignment pairs with the vectors off (merge method only). `anchor_data`:
    "safe", its benign and borderline answers only (keeps the served model answering);
    "alignment", the whole set, refusals too (keeps both sides of the alignment; the refusals
    make it overlap with `safety-mix`, its baseline); "recovery", the whole set plus one
    recovery example per vector pair (`data.recovery`: the alignment made deeper than the
    answer's first tokens, as Qi et al. 2024 propose against prefilled and fine-tuned openings);
    or "recovery-sensitive", that plus the base model's answers to secvec's sensitive-topic prompts,
    twice each (the recovery pairs alone made the served model refuse debate and dark-history
    prompts; these answers cut that refusal, v17c/d). `anchor_cover` raises the batch, where the
    job is short, until every anchor pair is rehearsed once per job (`covering_batch`): in v24 which
    104 of 262 pairs a 26-step job drew moved its served model from 0% to 22% harmful.
    `project` (core, left or both; or `{mode, radius}` to clip instead of remove) keeps the job's
    update out of the vectors' own subspace after every step (`SubspaceGuard`): the vectors change a
    protected step's direction only through its gradient, and at lr x10 that was not enough (v27).
    """

    def __init__(self, method: Literal["merge", "active"] = "merge", recipe: Optional[dict[str, Any]] = None,
                 anchor: float = 0.0, anchor_batch: int = 4,
                 anchor_data: AnchorData = "safe", anchor_cover: bool = False,
                 project: ProjectOption = None) -> None:
        where = f"defense {self.name or 'security-vectors'!r}"
        if method not in ("merge", "active"):
            raise ConfigError(f"{where}: method must be merge or active, got {method!r}")
        if anchor < 0 or not isinstance(anchor_batch, int) or anchor_batch < 1:
            raise ConfigError(f"{where}: anchor must be >= 0 and anchor_batch an integer >= 1")
        if not isinstance(anchor_cover, bool):
            raise ConfigError(f"{where}: anchor_cover must be true or false, got {anchor_cover!r}")
        if anchor and method != "merge":
            raise ConfigError(f"{where}: the anchor needs the merge method")
        check_anchor_data(where, "anchor_data", anchor_data)
        self.method, self.project = method, guard_spec(project, where)
        self.recipe = parse_recipe(recipe)
        self.anchor, self.anchor_batch, self.anchor_data = anchor, anchor_batch, anchor_data
        self.anchor_cover = anchor_cover
        self.vectors: Optional[SecurityVectors] = None
        self.anchor_pairs: list = []

    def prepare(self, inputs: DefenseInputs) -> None:
        self.vectors = inputs.security_vectors(self.recipe)
        self.prepare_anchor(inputs)

    def prepare_anchor(self, inputs: DefenseInputs) -> None:
        """The anchor's pairs from the provider's alignment set (none without an anchor)."""
        if self.anchor:
            self.anchor_pairs = anchor_pairs(inputs, self.anchor_data)

    def finetune(self, model, tokenizer, examples, cfg, progress=None):
        if self.vectors is None:
            raise RuntimeError("security-vectors defense used before prepare()")
        return protected_finetune(model, tokenizer, examples, cfg, self.vectors, self.method, progress=progress,
                                  regularizer=self.anchor_for(tokenizer, self.vectors, cfg, len(examples)),
                                  project=self.project)

    def anchor_for(self, tokenizer, vectors: SecurityVectors, cfg, n_examples: int,
                   pairs: Optional[list] = None) -> Optional[VectorsOffAnchor]:
        """The anchor of a job of `n_examples` on `pairs` (default: the anchor's) through the weights
        minus `vectors`, the ones the job trains under; None without one."""
        if not self.anchor:
            return None
        return VectorsOffAnchor(tokenizer, self.anchor_pairs if pairs is None else pairs, vectors, self.anchor,
                                self.anchor_batch, cfg, cover=n_examples if self.anchor_cover else None)


def check_anchor_data(where: str, option: str, value: Any) -> None:
    """ConfigError naming `option` unless `value` is one of the `AnchorData` kinds."""
    if value not in get_args(AnchorData):
        raise ConfigError(f"{where}: {option} must be one of {', '.join(get_args(AnchorData))}, got {value!r}")


def anchor_pairs(inputs: DefenseInputs, data: AnchorData) -> list:
    """What an anchor of kind `data` trains with the vectors off (see `SecurityVectorsDefense`)."""
    pairs = inputs.alignment_pairs()
    if data == "safe":
        refusals = inputs.refusal_pairs()
        pairs = [e for e in pairs if e not in refusals]
    elif data in ("recovery", "recovery-sensitive"):
        from secvec.data.recovery import recovery_pairs

        pairs += recovery_pairs(inputs.vector_pairs(), inputs.refusal_pairs())
        if data == "recovery-sensitive":  # twice, as measured (v17c/d)
            pairs += inputs.sensitive_pairs() * 2
    if not pairs:
        raise ConfigError("the anchor needs the provider's safe alignment answers and there are none")
    return pairs


def parse_recipe(recipe: Optional[dict[str, Any]]) -> Optional[VectorRecipe]:
    """The recipe option as a validated `VectorRecipe` (None: the provider's default vectors)."""
    if not recipe:
        return None
    try:
        parsed = VectorRecipe.model_validate(recipe)
    except ValidationError as e:
        err = e.errors()[0]
        raise ConfigError(f"vector recipe: {'.'.join(str(x) for x in err['loc'])}: {err['msg']}") from None
    from secvec.data.styles import restyle

    for style in parsed.styles:  # an unknown style or an attack persona fails when the config loads
        restyle([], style, 0)
    parsed.apply(VectorsConfig())
    return parsed
