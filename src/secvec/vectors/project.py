"""Keep a protected job's update out of the vectors' own subspace.

Why: under the alignment delta a job at the demo's lr learns little harm, but at lr x10 it still
un-aligns the served model. The delta does not lower the attack's loss, and AdamW's clipped steps
keep their size under it: only their direction changes (cosine 0.46 to the vanilla gradient,
benchmarks/results/2026-11-28-cpu2-matrix-v27/gradprobe.txt). The un-alignment the vectors stand
for is a rank-r delta `B @ A` per weight; its column space `U` (of B) and row space `V` (of A^T)
are where a job would move the weights to undo it along the vectors' route. This guard takes the
part of the job's update that lies there back out after every optimizer step, so the step's
direction changes where the vectors alone only change its gradient.

Modes: `core` removes `U U^T D V V^T` (the r x r block the delta itself lives in), `left` removes
`U U^T D` (anything written into the delta's output directions), `both` removes every part that
touches either space, `D - (I - U U^T) D (I - V V^T)`. Projecting the cumulative update `D` after
each step equals projecting each step, since the projection is linear and idempotent.

`radius` clips instead of removing: the guarded part of `D` may keep a Frobenius norm of up to
`radius` times the delta's own (per weight), and only what lies beyond is taken out. Why: the
full guard costs the delta's own cells a floor (below), while the delta alone held small budgets
and broke only at a large learning rate; a job that writes into the delta's subspace more than a
fraction of the alignment's own size is what the clip stops. Clipping the cumulative update is
not the same as clipping each step: a job can spend its radius early.

Measured (benchmarks/results/2026-11-28-cpu2-matrix-v28, 3 seeds, bf16 CPU): with the alignment
delta on, `both` held lr x10 (6.7% against the delta's 26.7%), Gemma's pairs, benign drift, 5%
poison and the lead at ~1.25x a job's time, but left 4-14% on every harmful cell, the delta's own
source (7.3% against 1.3%) and lr x3 (10.7% against 0%) included; `core` and `left` did not help
lr x10, and the guard without the delta in the forward pass made it worse than no defense. Part of
what a job writes into the delta's subspace under the delta is what keeps the served model refusing.
With `radius: 0.3` (v29, same CPU, 3 seeds) the delta's budget cells all held: its own source 2.7%,
lr x3 5.3%, lr x10 0.7% (vanilla 76 / 70 / 51%); but other authors' pairs (55.3%) and 20% poison
(23.3%) got through as under the delta alone: the clip keeps the small protective part and loses
what removing everything did against another style.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, Optional, Union

import torch

from secvec.errors import ConfigError
from secvec.vectors.core import SecurityVectors, base_model_of

ProjectMode = Literal["core", "left", "both"]
PROJECT_MODES = ("core", "left", "both")


@dataclass(frozen=True)
class GuardSpec:
    """What the guard keeps out (`mode`) and how much of it it lets through (`radius`; None: nothing)."""

    mode: ProjectMode = "both"
    radius: Optional[float] = None

    def meta(self) -> list:
        return [self.mode, self.radius]


ProjectOption = Union[ProjectMode, dict, GuardSpec, None]


def guard_spec(value: Any, where: str = "") -> Optional[GuardSpec]:
    """The option `project` as given in YAML (a mode, or `{mode, radius}`), checked; None if off.

    ConfigError naming the modes (or the bad radius) otherwise; `where`: the option's owner.
    """
    at = f"{where}{': ' if where else ''}project"
    if value is None or isinstance(value, GuardSpec):
        spec = value
    elif isinstance(value, str):
        spec = GuardSpec(value)  # type: ignore[arg-type]
    elif isinstance(value, dict) and set(value) <= {"mode", "radius"}:
        spec = GuardSpec(value.get("mode", "both"), value.get("radius"))
    else:
        raise ConfigError(f"{at} must be a mode ({', '.join(PROJECT_MODES)}) or {{mode, radius}}, got {value!r}")
    if spec is None:
        return None
    if spec.mode not in PROJECT_MODES:
        raise ConfigError(f"{at} must be one of {', '.join(PROJECT_MODES)}, got {spec.mode!r}")
    r = spec.radius
    if r is not None and (isinstance(r, bool) or not isinstance(r, (int, float)) or not r > 0):
        raise ConfigError(f"{at}: radius must be a number > 0 (a fraction of the delta's norm), got {r!r}")
    return spec


def delta_bases(b: torch.Tensor, a: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Orthonormal bases of the column and row spaces of `b @ a`, from the thin factors alone.

    `b = Qb Rb`, `a^T = Qa Ra`, so `b @ a = Qb (Rb Ra^T) Qa^T` and the r x r core's SVD gives both
    bases; directions with no singular value (a zero column of a padded rank) are left out. The core
    is not square where the rank exceeds a side of the weight (rank 32 vectors on a 16-wide layer),
    hence the thin SVD.
    """
    qb, rb = torch.linalg.qr(b.float())
    qa, ra = torch.linalg.qr(a.float().T)
    um, s, vmh = torch.linalg.svd(rb @ ra.T, full_matrices=False)
    keep = s > s.max() * 1e-6 if s.numel() and s.max() > 0 else s > 0
    return qb @ um[:, keep], qa @ vmh.T[:, keep]


class SubspaceGuard:
    """Called after each optimizer step of a protected job (`train(after_step=...)`).

    Full fine-tuning: holds a copy of each targeted weight from the job's start (~0.4 GB for the
    bundled model in fp32) and removes the guarded part of `W - W_start`; a step costs ~4 small
    matmuls per weight. A LoRA job (the user's adapter `B_u @ A_u` on a targeted Linear): `left`
    projects `B_u` onto the complement of `U`, `both` also `A_u` onto that of `V`, which removes
    exactly those parts of the adapter's delta; `core` has no such form and is refused there.
    """

    def __init__(self, model: torch.nn.Module, vectors: SecurityVectors, mode: ProjectOption = "both") -> None:
        spec = guard_spec(mode)
        if spec is None:
            raise ConfigError("project: a guard needs a mode")
        self.mode, self.radius = spec.mode, spec.radius
        self.peak = 0.0  # the largest guarded part seen, as a fraction of its delta's norm (before any clip)
        self.full: list[tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, float]] = []
        self.lora: list[tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, float, float]] = []
        modules = dict(base_model_of(model).named_modules())
        for name, w in vectors.target_weights(model, check_weights=False).items():
            u, v = (t.to(w.device) for t in delta_bases(vectors.lora_b[name], vectors.lora_a[name]))
            size = float(vectors.delta(name).norm())
            if w.requires_grad:
                self.full.append((w, w.detach().clone(), u, v, size))
                continue
            adapters = _trainable_lora(modules[name])
            if adapters and self.mode == "core":
                raise ConfigError("project core has no LoRA form: a LoRA job takes project left or both")
            self.lora += [(b, a, u, v, size, scale) for b, a, scale in adapters]
        if not self.full and not self.lora:
            raise ConfigError("project found nothing to guard: no weight the vectors target trains in this job")

    def removed(self, d: torch.Tensor, u: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        """The part of update `d` this guard's mode takes out."""
        ud = u @ (u.T @ d)
        if self.mode == "left":
            return ud
        core = (ud @ v) @ v.T
        return core if self.mode == "core" else ud + (d @ v) @ v.T - core

    def share(self, part: torch.Tensor, size: float) -> float:
        """Which share of the guarded `part` to take out: all of it, or what lies beyond the radius."""
        norm = float(part.norm())
        self.peak = max(self.peak, norm / size if size > 0 else 0.0)
        if self.radius is None:
            return 1.0
        cap = self.radius * size
        return 0.0 if norm <= cap else 1.0 - cap / norm

    @torch.no_grad()
    def __call__(self) -> None:
        for w, w0, u, v, size in self.full:
            part = self.removed((w - w0).float(), u, v)
            share = self.share(part, size)
            if share:
                w.sub_((part * share).to(w.dtype))
        for b, a, u, v, size, scale in self.lora:
            # The factors' guarded parts shrink by one share: exact for `left`, where the adapter's
            # guarded part is `U U^T B A`; for `both` the cross term `U U^T B A V V^T` shrinks by more.
            share = self.share(self.removed(scale * b.float() @ a.float(), u, v), size)
            if not share:
                continue
            b.sub_((share * (u @ (u.T @ b.float()))).to(b.dtype))
            if self.mode == "both":
                a.sub_((share * ((a.float() @ v) @ v.T)).to(a.dtype))


def _trainable_lora(module: torch.nn.Module) -> list[tuple[torch.nn.Parameter, torch.nn.Parameter, float]]:
    """(lora_B, lora_A, scaling) of the trainable PEFT adapters on `module` (none if not wrapped)."""
    a_, b_ = getattr(module, "lora_A", None), getattr(module, "lora_B", None)
    if a_ is None or b_ is None:
        return []
    scaling = getattr(module, "scaling", {})
    return [(b_[k].weight, a_[k].weight, float(scaling.get(k, 1.0))) for k in b_ if b_[k].weight.requires_grad]
