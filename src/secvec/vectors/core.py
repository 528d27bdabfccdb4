"""Security vectors as data: a standard PEFT LoRA adapter plus a small metadata file.

The adapter files (`adapter_config.json`, `adapter_model.safetensors`) load in plain PEFT;
`secvec_vectors.json` adds what secvec checks before use: the base model's fingerprint, a
hash of the training data and the final losses.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file

from secvec.errors import ModelError

log = logging.getLogger(__name__)

ADAPTER_NAME = "security_vectors"
META_FILE = "secvec_vectors.json"
_PREFIX = "base_model.model."


def base_model_of(model: torch.nn.Module) -> torch.nn.Module:
    """The transformers model under any PEFT wrapper (module paths match the vectors' keys)."""
    get = getattr(model, "get_base_model", None)
    return get() if callable(get) else model


def model_fingerprint(model: torch.nn.Module) -> dict[str, str]:
    """`arch` must match for vectors to apply; `weights` differing only earns a warning."""
    base = base_model_of(model)
    cfg = base.config
    arch = json.dumps([cfg.model_type, cfg.vocab_size, cfg.hidden_size, cfg.num_hidden_layers,
                       getattr(cfg, "intermediate_size", None)])
    emb = base.get_input_embeddings().weight.detach()
    sample = emb[: min(64, emb.shape[0])].float().cpu().numpy().tobytes()
    return {"arch": hashlib.sha256(arch.encode()).hexdigest()[:16],
            "weights": hashlib.sha256(sample).hexdigest()[:16]}


def examples_hash(examples: list[Any]) -> str:
    blob = json.dumps([getattr(e, "messages", e) for e in examples], sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


@dataclass
class SecurityVectors:
    """Low-rank deltas `B @ A * scaling` for named Linear modules of one base architecture."""

    lora_a: dict[str, torch.Tensor]
    lora_b: dict[str, torch.Tensor]
    scaling: float
    adapter_config: dict[str, Any]
    meta: dict[str, Any] = field(default_factory=dict)
    path: Path | None = None

    # ---- construction -------------------------------------------------------------------
    @classmethod
    def from_state_dict(cls, state: dict[str, torch.Tensor], adapter_config: dict[str, Any],
                        meta: dict[str, Any] | None = None, path: Path | None = None) -> "SecurityVectors":
        if adapter_config.get("use_dora") or adapter_config.get("fan_in_fan_out"):
            raise ModelError("security vectors must be plain LoRA (no DoRA, no fan_in_fan_out)")
        if adapter_config.get("rank_pattern") or adapter_config.get("alpha_pattern"):
            raise ModelError("security vectors with per-module rank/alpha patterns are not supported")
        a, b = {}, {}
        for key, t in state.items():
            name = key[len(_PREFIX):] if key.startswith(_PREFIX) else key
            if name.endswith(".lora_A.weight"):
                a[name[: -len(".lora_A.weight")]] = t.detach().clone()
            elif name.endswith(".lora_B.weight"):
                b[name[: -len(".lora_B.weight")]] = t.detach().clone()
        if not a or set(a) != set(b):
            raise ModelError("adapter has no matching lora_A/lora_B weights; not a LoRA adapter")
        r = int(adapter_config["r"])
        alpha = float(adapter_config["lora_alpha"])
        scaling = alpha / (r ** 0.5) if adapter_config.get("use_rslora") else alpha / r
        return cls(a, b, scaling, adapter_config, meta or {}, path)

    @classmethod
    def from_peft(cls, peft_model, meta: dict[str, Any] | None = None) -> "SecurityVectors":
        from peft import get_peft_model_state_dict

        state = get_peft_model_state_dict(peft_model, adapter_name=ADAPTER_NAME)
        config = peft_model.peft_config[ADAPTER_NAME].to_dict()
        return cls.from_state_dict(state, _jsonable(config), meta)

    @classmethod
    def load(cls, path: str | Path) -> "SecurityVectors":
        p = Path(path)
        cfg_file, weights = p / "adapter_config.json", p / "adapter_model.safetensors"
        if not p.is_dir():
            raise ModelError(f"security vectors not found: {p} is not a directory")
        if not cfg_file.exists() or not weights.exists():
            raise ModelError(f"{p}: not a security-vectors dir (needs adapter_config.json and adapter_model.safetensors)")
        meta = json.loads((p / META_FILE).read_text()) if (p / META_FILE).exists() else {}
        return cls.from_state_dict(load_file(str(weights)), json.loads(cfg_file.read_text()), meta, p)

    def save(self, path: str | Path) -> Path:
        p = Path(path)
        p.mkdir(parents=True, exist_ok=True)
        state = {}
        for name in self.lora_a:
            state[f"{_PREFIX}{name}.lora_A.weight"] = self.lora_a[name].contiguous()
            state[f"{_PREFIX}{name}.lora_B.weight"] = self.lora_b[name].contiguous()
        save_file(state, str(p / "adapter_model.safetensors"))
        (p / "adapter_config.json").write_text(json.dumps(self.adapter_config, indent=1))
        (p / META_FILE).write_text(json.dumps(self.meta, indent=1))
        self.path = p
        return p

    def fingerprint(self) -> str:
        """A hash of the weights and scaling: which vectors a run (or a checkpoint) trained under."""
        h = hashlib.sha256(f"{self.scaling!r}".encode())
        for name in sorted(self.lora_a):
            for t in (self.lora_a[name], self.lora_b[name]):
                h.update(name.encode())
                h.update(t.detach().float().cpu().contiguous().numpy().tobytes())
        return h.hexdigest()[:16]

    def scaled(self, factor: float) -> "SecurityVectors":
        """The same vectors with their delta times `factor`, folded into B so that they save and load
        as what they are (a new adapter: `path` is not carried over)."""
        return SecurityVectors(self.lora_a, {n: b * factor for n, b in self.lora_b.items()}, self.scaling,
                               self.adapter_config, {**self.meta, "scaled": self.meta.get("scaled", 1.0) * factor})

    # ---- use ----------------------------------------------------------------------------
    def delta(self, name: str) -> torch.Tensor:
        return (self.lora_b[name].float() @ self.lora_a[name].float()) * self.scaling

    def target_weights(self, model: torch.nn.Module, check_weights: bool = True) -> dict[str, torch.nn.Parameter]:
        """The base Linear weight each vector applies to; a clear error if the model differs, and a
        warning if its weights are not the ones the vectors were trained on (`check_weights`)."""
        base = base_model_of(model)
        modules = dict(base.named_modules())
        found: dict[str, torch.nn.Parameter] = {}
        for name in self.lora_a:
            mod = modules.get(name)
            if mod is None:
                raise ModelError(f"security vectors{self._where()} do not fit this model: it has no module {name!r} "
                                 "(vectors were trained for a different base model)")
            mod = getattr(mod, "base_layer", mod)  # under a PEFT LoRA wrapper, the frozen Linear
            shape = (self.lora_b[name].shape[0], self.lora_a[name].shape[1])
            if tuple(mod.weight.shape) != shape:
                raise ModelError(f"security vectors{self._where()} do not fit this model: {name} is "
                                 f"{tuple(mod.weight.shape)}, vectors expect {shape} (different base model)")
            found[name] = mod.weight
        fp = self.meta.get("base_fingerprint")
        if fp:
            now = model_fingerprint(model)
            if fp.get("arch") != now["arch"]:
                raise ModelError(f"security vectors{self._where()} were trained for a different architecture")
            if check_weights and fp.get("weights") != now["weights"]:
                log.warning("security vectors%s were trained on other weights of this architecture", self._where())
        return found

    def _where(self) -> str:
        return f" in {self.path}" if self.path else ""


def stacked(*vectors: SecurityVectors) -> SecurityVectors:
    """One set of vectors whose delta is the sum of theirs: their factors side by side.

    Why: two kinds of vectors can cover what neither covers alone (the alignment delta holds a
    long job, the provider's trained vectors its first steps; `routed-vectors`' `stack_provider`),
    and every path that takes vectors (merge, anchor, checkpoints, PEFT export) takes one set. The
    scalings are folded into the B factors; a module one set lacks gets zero factors there.
    """
    if not vectors:
        raise ModelError("nothing to stack: give at least one set of security vectors")
    names = sorted(set().union(*(v.lora_a for v in vectors)))
    ranks = [next(iter(v.lora_a.values())).shape[0] for v in vectors]
    lora_a, lora_b = {}, {}
    for name in names:
        out, inp = next((v.lora_b[name].shape[0], v.lora_a[name].shape[1]) for v in vectors if name in v.lora_a)
        lora_a[name] = torch.cat([v.lora_a[name].float() if name in v.lora_a else torch.zeros(r, inp)
                                  for v, r in zip(vectors, ranks)])
        lora_b[name] = torch.cat([v.lora_b[name].float() * v.scaling if name in v.lora_b else torch.zeros(out, r)
                                  for v, r in zip(vectors, ranks)], dim=1)
    config = dict(vectors[0].adapter_config, r=sum(ranks), lora_alpha=sum(ranks), use_rslora=False,
                  target_modules=sorted({n.rsplit(".", 1)[-1] for n in names}))
    meta = {"kind": "stack", "parts": [v.meta.get("kind", "trained") for v in vectors],
            "base_fingerprint": vectors[0].meta.get("base_fingerprint")}
    return SecurityVectors(lora_a, lora_b, 1.0, _jsonable(config), meta)


def load_under_stack(path: str | Path, stack: str | Path | None = None, scale: float = 1.0,
                     guard_stack: bool = False) -> tuple[SecurityVectors, SecurityVectors]:
    """The vectors a job trains under (those at `path`, plus `scale` x those at `stack` where given)
    and the ones its subspace guard keeps to (those at `path`, or with `guard_stack` the whole sum):
    `secvec finetune --stack` and the service's `stack` setting."""
    vectors = SecurityVectors.load(path)
    if not stack:
        return vectors, vectors
    both = stacked(vectors, SecurityVectors.load(stack).scaled(scale))
    return both, (both if guard_stack else vectors)


def _jsonable(d: dict[str, Any]) -> dict[str, Any]:
    return json.loads(json.dumps(d, default=lambda o: sorted(o) if isinstance(o, set) else str(o)))
