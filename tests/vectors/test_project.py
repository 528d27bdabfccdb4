import copy

import pytest
import torch

from secvec.config import LoraSpec, TrainConfig
from secvec.errors import ConfigError
from secvec.vectors import protected_finetune
from secvec.vectors.delta import alignment_delta
from secvec.vectors.project import GuardSpec, SubspaceGuard, delta_bases, guard_spec

JOB = TrainConfig(lr=3e-3, max_steps=6, batch_size=4, max_length=96, seed=0)
TARGETS = ("q_proj", "v_proj", "up_proj", "down_proj")


@pytest.fixture
def vectors(tiny):
    """Rank-3 alignment-delta vectors against a randomly perturbed copy of the tiny model."""
    before = copy.deepcopy(tiny.model)
    g = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for p in before.parameters():
            p.add_(torch.randn(p.shape, generator=g) * 0.05)
    return alignment_delta(tiny.model, before, 3, list(TARGETS))


def test_delta_bases_span_the_delta_and_skip_a_padded_rank():
    g = torch.Generator().manual_seed(1)
    a, b = torch.randn(4, 9, generator=g), torch.randn(7, 4, generator=g)
    b[:, 3] = 0
    u, v = delta_bases(b, a)
    assert u.shape == (7, 3) and v.shape == (9, 3)
    torch.testing.assert_close(u.T @ u, torch.eye(3), atol=1e-5, rtol=0)
    torch.testing.assert_close(v.T @ v, torch.eye(3), atol=1e-5, rtol=0)
    d = b @ a
    torch.testing.assert_close(u @ (u.T @ d @ v) @ v.T, d, atol=1e-4, rtol=0)


def test_delta_bases_of_a_rank_above_one_side_of_the_weight():
    """Rank 8 vectors on a weight 5 wide (out) and 11 long (in): the bases have the delta's rank, 5."""
    g = torch.Generator().manual_seed(2)
    b, a = torch.randn(5, 8, generator=g), torch.randn(8, 11, generator=g)
    u, v = delta_bases(b, a)
    assert u.shape == (5, 5) and v.shape == (11, 5)
    torch.testing.assert_close(v.T @ v, torch.eye(5), atol=1e-5, rtol=0)
    d = b @ a
    torch.testing.assert_close(u @ (u.T @ d @ v) @ v.T, d, atol=1e-4, rtol=0)


def updates(start, model, vectors):
    """Per targeted weight: (name, the job's update D, the delta's bases U, V)."""
    before = vectors.target_weights(start, check_weights=False)
    for name, w in vectors.target_weights(model, check_weights=False).items():
        yield (name, (w - before[name]).detach(), *delta_bases(vectors.lora_b[name], vectors.lora_a[name]))


def update_parts(start, model, vectors):
    """Per targeted weight: (|U^T D V|, |U^T D|, |D V|, |D|) of the job's update D."""
    return [((u.T @ d @ v).norm(), (u.T @ d).norm(), (d @ v).norm(), d.norm())
            for _, d, u, v in updates(start, model, vectors)]


@pytest.mark.parametrize("mode,gone", [("core", (0,)), ("left", (0, 1)), ("both", (0, 1, 2))])
def test_the_job_s_update_leaves_the_vectors_subspace_and_still_trains(tiny, pairs, vectors, mode, gone):
    harmful, _ = pairs
    plain, _ = protected_finetune(copy.deepcopy(tiny.model), tiny.tokenizer, harmful, JOB, vectors)
    guarded, result = protected_finetune(copy.deepcopy(tiny.model), tiny.tokenizer, harmful, JOB, vectors,
                                         project=mode)
    for p, q in zip(update_parts(tiny.model, plain, vectors), update_parts(tiny.model, guarded, vectors)):
        for i in gone:
            assert p[i] > 1e-3 * p[3]       # the unguarded job moves there ...
            assert q[i] < 1e-5 * q[3]       # ... the guarded one does not
        assert q[3] > 0.3 * p[3]            # and it still moves the weight elsewhere
    assert result.losses[-1] < result.losses[0]


def test_one_guarded_step_changes_only_the_weights_the_vectors_target(tiny, pairs, vectors):
    harmful, _ = pairs
    one = JOB.model_copy(update={"max_steps": 1})
    plain, _ = protected_finetune(copy.deepcopy(tiny.model), tiny.tokenizer, harmful, one, vectors)
    guarded, _ = protected_finetune(copy.deepcopy(tiny.model), tiny.tokenizer, harmful, one, vectors, project="core")
    targeted = {n + ".weight" for n in vectors.lora_a}
    for (n, p), (_, q) in zip(plain.named_parameters(), guarded.named_parameters()):
        assert torch.equal(p, q) != (n in targeted), n


def test_merged_and_active_paths_guard_alike(tiny, pairs, vectors, tmp_path):
    harmful, _ = pairs
    vectors.save(tmp_path / "vec")
    m1, r1 = protected_finetune(copy.deepcopy(tiny.model), tiny.tokenizer, harmful, JOB, vectors, "merge",
                                project="both")
    m2, r2 = protected_finetune(copy.deepcopy(tiny.model), tiny.tokenizer, harmful, JOB, vectors, "active",
                                project="both")
    assert r1.losses == pytest.approx(r2.losses, rel=1e-4)
    for (n, p), (_, q) in zip(m1.named_parameters(), m2.named_parameters()):
        torch.testing.assert_close(p, q, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("mode", ["left", "both"])
def test_a_lora_job_s_adapter_leaves_the_vectors_subspace(tiny, pairs, vectors, mode):
    from peft import PeftModel

    harmful, _ = pairs
    lora = JOB.model_copy(update={"mode": "lora", "lora": LoraSpec(r=2, alpha=4, target_modules=["q_proj", "k_proj"])})

    def adapter_deltas(project):
        torch.manual_seed(0)
        model, result = protected_finetune(copy.deepcopy(tiny.model), tiny.tokenizer, harmful, lora, vectors,
                                           project=project)
        assert isinstance(model, PeftModel)
        assert (result.extra.get("guard_peak", 0) > 0) == bool(project)  # measured without a radius too
        return {n: m.get_delta_weight("default") for n, m in model.base_model.model.named_modules()
                if n.endswith("q_proj") and hasattr(m, "lora_A")}

    plain, guarded = adapter_deltas(None), adapter_deltas(mode)
    for name, d in guarded.items():
        u, v = delta_bases(vectors.lora_b[name], vectors.lora_a[name])
        p = plain[name]
        assert (u.T @ p).norm() > 1e-3 * p.norm() and (u.T @ d).norm() < 1e-5 * d.norm()
        if mode == "both":
            assert (p @ v).norm() > 1e-3 * p.norm() and (d @ v).norm() < 1e-5 * d.norm()
        assert d.norm() > 0.3 * p.norm()


def guarded_part_norms(start, model, vectors):
    """Per targeted weight: the norm of the `both` part of the job's update, as a fraction of the delta's."""
    return [float((u @ (u.T @ d) + (d @ v) @ v.T - u @ (u.T @ d @ v) @ v.T).norm() / vectors.delta(name).norm())
            for name, d, u, v in updates(start, model, vectors)]


def test_a_radius_clips_the_guarded_part_instead_of_removing_it(tiny, pairs, vectors):
    harmful, _ = pairs
    plain, _ = protected_finetune(copy.deepcopy(tiny.model), tiny.tokenizer, harmful, JOB, vectors)
    free = guarded_part_norms(tiny.model, plain, vectors)
    radius = 0.5 * min(free)
    clipped, result = protected_finetune(copy.deepcopy(tiny.model), tiny.tokenizer, harmful, JOB, vectors,
                                         project={"mode": "both", "radius": radius})
    assert result.extra["guard_peak"] > radius      # it records how far past the radius the job pushed
    # every weight's unguarded job went past the radius; clipped, each sits on it (not at zero)
    assert guarded_part_norms(tiny.model, clipped, vectors) == pytest.approx([radius] * len(free), rel=1e-3)
    # a radius no job reaches leaves the job as it was
    wide, result = protected_finetune(copy.deepcopy(tiny.model), tiny.tokenizer, harmful, JOB, vectors,
                                      project={"mode": "both", "radius": 10 * max(free)})
    assert result.extra["guard_peak"] >= max(free) - 1e-3  # the largest over steps, at least the last
    for (n, p), (_, q) in zip(plain.named_parameters(), wide.named_parameters()):
        assert torch.equal(p, q), n


def test_a_radius_clips_a_lora_job_s_adapter_along_the_output_directions(tiny, pairs, vectors):
    harmful, _ = pairs
    lora = JOB.model_copy(update={"mode": "lora", "lora": LoraSpec(r=2, alpha=4, target_modules=["q_proj"])})

    def left_parts(project):
        torch.manual_seed(0)
        model, _ = protected_finetune(copy.deepcopy(tiny.model), tiny.tokenizer, harmful, lora, vectors,
                                      project=project)
        out = {}
        for n, m in model.base_model.model.named_modules():
            if n.endswith("q_proj") and hasattr(m, "lora_A"):
                u, _ = delta_bases(vectors.lora_b[n], vectors.lora_a[n])
                d = m.get_delta_weight("default").detach()
                out[n] = float((u @ (u.T @ d)).norm() / vectors.delta(n).norm())
        return out

    free = left_parts(None)
    radius = 0.5 * min(free.values())
    assert left_parts({"mode": "left", "radius": radius}) == pytest.approx({n: radius for n in free}, rel=1e-3)


def test_guard_spec_reads_a_mode_or_a_mapping():
    assert guard_spec(None) is None
    assert guard_spec("left") == GuardSpec("left")
    assert guard_spec({"radius": 0.2}) == GuardSpec("both", 0.2)
    for bad, says in [({"mode": "both", "radius": 0}, "radius must be a number > 0"),
                      ({"mode": "both", "radius": "wide"}, "radius must be a number > 0"),
                      ({"mode": "both", "size": 1}, "must be a mode"), (3, "must be a mode"),
                      ({"mode": "up"}, "project must be one of")]:
        with pytest.raises(ConfigError, match=says):
            guard_spec(bad, "defense 'x'")


def test_project_s_errors_name_the_problem(tiny, pairs, vectors):
    harmful, _ = pairs
    lora = JOB.model_copy(update={"mode": "lora", "lora": LoraSpec(r=2, alpha=4, target_modules=["q_proj"])})
    with pytest.raises(ConfigError, match="project core has no LoRA form"):
        protected_finetune(copy.deepcopy(tiny.model), tiny.tokenizer, harmful, lora, vectors, project="core")
    only_k = lora.model_copy(update={"lora": LoraSpec(r=2, alpha=4, target_modules=["k_proj"])})
    with pytest.raises(ConfigError, match="nothing to guard"):
        protected_finetune(copy.deepcopy(tiny.model), tiny.tokenizer, harmful, only_k, vectors, project="both")
    with pytest.raises(ConfigError, match="needs security vectors"):
        protected_finetune(copy.deepcopy(tiny.model), tiny.tokenizer, harmful, JOB, None, project="both")
    with pytest.raises(ConfigError, match="project must be one of"):
        SubspaceGuard(tiny.model, vectors, "sideways")  # type: ignore[arg-type]


def test_resume_refuses_another_guard(tiny, pairs, vectors, tmp_path):
    harmful, benign = pairs
    cfg = JOB.model_copy(update={"max_steps": 4, "checkpoint_every": 2})

    def stop(event):
        if event.step == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        protected_finetune(copy.deepcopy(tiny.model), tiny.tokenizer, harmful + benign, cfg, vectors, project="both",
                           output_dir=tmp_path, progress=stop)
    for other in ("core", {"mode": "both", "radius": 0.5}):
        with pytest.raises(ConfigError, match="was saved with"):
            protected_finetune(copy.deepcopy(tiny.model), tiny.tokenizer, harmful + benign, cfg, vectors,
                               project=other, output_dir=tmp_path, resume=True)
    _, result = protected_finetune(copy.deepcopy(tiny.model), tiny.tokenizer, harmful + benign, cfg, vectors,
                                   project="both", output_dir=tmp_path, resume=True)
    assert result.steps == 4
