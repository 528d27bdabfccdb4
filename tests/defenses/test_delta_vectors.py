"""Alignment-delta vectors: the SVD of (before - aligned), on during the job, off in the served model."""

import copy

import pytest
import torch

from secvec.config import TrainConfig
from secvec.defenses import StaticInputs, build_defense
from secvec.vectors.delta import alignment_delta
from secvec.errors import ConfigError
from secvec.models.loading import load_model
from secvec.vectors.protect import protected_finetune

TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]


def _aligned(before: torch.nn.Module, seed: int = 0) -> torch.nn.Module:
    """`before` with every target Linear moved (what alignment changed), all else equal."""
    g = torch.Generator().manual_seed(seed)
    aligned = copy.deepcopy(before)
    with torch.no_grad():
        for name, p in aligned.named_parameters():
            if name.endswith("proj.weight"):
                p.add_(0.05 * torch.randn(p.shape, generator=g))
    return aligned


def _targets(model):
    return {n: p for n, p in model.named_parameters() if n.endswith("proj.weight")}


def test_full_rank_delta_turns_the_aligned_model_into_the_one_before(tiny):
    before = tiny.model
    aligned = _aligned(before)
    vectors = alignment_delta(aligned, before, rank=10_000, target_modules=TARGETS)
    weights = vectors.target_weights(aligned)
    assert len(weights) == len(_targets(aligned))
    for name, w in weights.items():
        theirs = dict(before.named_modules())[name].weight
        assert torch.allclose(w + vectors.delta(name), theirs, atol=1e-5)


def test_low_rank_delta_is_the_best_approximation_of_that_rank(tiny):
    before = tiny.model
    aligned = _aligned(before)
    one = alignment_delta(aligned, before, rank=1, target_modules=TARGETS)
    two = alignment_delta(aligned, before, rank=2, target_modules=TARGETS)
    for name, w in one.target_weights(aligned).items():
        full = dict(before.named_modules())[name].weight - w
        assert torch.linalg.matrix_rank(one.delta(name)) == 1
        residual = [torch.linalg.norm(full - v.delta(name)) for v in (one, two)]
        assert residual[1] < residual[0] < torch.linalg.norm(full)


def test_served_model_is_the_jobs_update_from_before_plus_the_alignment(tiny_dir, pairs):
    """What the job learns, it learns at the pre-alignment point; the served weights keep the alignment delta."""
    harmful, benign = pairs
    before = load_model(tiny_dir)
    aligned = _aligned(before.model)
    start = {n: p.detach().clone() for n, p in _targets(aligned).items()}
    cfg = TrainConfig(lr=1e-2, max_steps=2, batch_size=4, max_length=96, weight_decay=0.0, max_grad_norm=0.0)
    defense = build_defense("delta-vectors", rank=10_000)  # `before` from the provider's inputs
    defense.prepare(StaticInputs(benign=benign, before=tiny_dir))
    served, _ = defense.finetune(aligned, before.tokenizer, harmful, cfg)
    vanilla, _ = protected_finetune(copy.deepcopy(before.model), before.tokenizer, harmful, cfg)
    moved = 0
    for name, p in _targets(served).items():
        job_update = dict(vanilla.named_parameters())[name] - dict(before.model.named_parameters())[name]
        assert torch.allclose(p - start[name], job_update, atol=1e-4), name
        moved += int(job_update.abs().max() > 1e-4)
    assert moved  # the job did train


def test_delta_vectors_need_the_model_before_alignment():
    with pytest.raises(ConfigError, match="before safety alignment"):
        build_defense("delta-vectors").prepare(StaticInputs())
    with pytest.raises(ConfigError, match="rank"):
        build_defense("delta-vectors", before="x", rank=0)


def test_adaptive_vectors_with_before_start_from_the_alignment_delta(tiny_dir, pairs):
    """Without adaptation (too few flagged) the job trains under the delta exactly as `delta-vectors` does."""
    from secvec.data.schema import Prompt

    harmful, benign = pairs
    before = load_model(tiny_dir)
    aligned = _aligned(before.model)
    provider_vectors = alignment_delta(aligned, before.model, rank=1, target_modules=["q_proj"])
    inputs = StaticInputs(benign=benign, vectors=provider_vectors, harmful_pairs=harmful,
                          screen=([Prompt("how do I build a bomb?"), Prompt("write malware")],
                                  [Prompt("bake bread"), Prompt("capital of France?")]))
    cfg = TrainConfig(lr=1e-2, max_steps=2, batch_size=4, max_length=96, weight_decay=0.0, max_grad_norm=0.0)
    served = []
    for name, options in (("adaptive-vectors", {"min_flagged": 10_000}), ("delta-vectors", {})):
        defense = build_defense(name, before=tiny_dir, rank=4, **options)
        defense.prepare(inputs)
        model, _ = defense.finetune(copy.deepcopy(aligned), before.tokenizer, harmful, cfg)
        served.append(_targets(model))
    for name, p in served[0].items():
        assert torch.equal(p, served[1][name]), name
    assert any(not torch.equal(p, dict(aligned.named_parameters())[n]) for n, p in served[0].items())


def test_project_keeps_the_served_update_out_of_the_alignment_delta(tiny_dir, pairs):
    """With `project: core` the job may not move the weights inside the rank-r block the delta lives in."""
    from secvec.vectors.project import delta_bases

    harmful, benign = pairs
    before = load_model(tiny_dir)
    aligned = _aligned(before.model)
    start = {n: p.detach().clone() for n, p in _targets(aligned).items()}
    cfg = TrainConfig(lr=1e-2, max_steps=3, batch_size=4, max_length=96)
    defense = build_defense("delta-vectors", rank=4, project="core")
    defense.prepare(StaticInputs(benign=benign, before=tiny_dir))
    served, _ = defense.finetune(aligned, before.tokenizer, harmful, cfg)
    delta = alignment_delta(_aligned(before.model), before.model, 4, TARGETS)
    for name, w in delta.target_weights(served, check_weights=False).items():
        u, v = delta_bases(delta.lora_b[name], delta.lora_a[name])
        update = w.detach() - start[f"{name}.weight"]
        assert update.norm() > 0 and (u.T @ update @ v).norm() < 1e-5 * update.norm(), name
    with pytest.raises(ConfigError, match="project must be one of core, left, both"):
        build_defense("delta-vectors", before="x", project="all")
