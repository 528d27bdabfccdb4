"""Routed vectors: each route trains the job exactly as the defense it borrows from."""

import copy

import pytest
import torch

from secvec.config import TrainConfig, VectorsConfig
from secvec.data.schema import Example
from secvec.defenses import StaticInputs, build_defense
from secvec.errors import ConfigError
from secvec.models.loading import load_model
from secvec.vectors import train_vectors

from tests.defenses.test_adaptive_vectors import BENIGN_PROMPTS, HARMFUL_PROMPTS
from tests.defenses.test_delta_vectors import _aligned

CFG = TrainConfig(lr=1e-2, max_steps=2, batch_size=4, max_length=96, weight_decay=0.0, max_grad_norm=0.0)
ANCHOR = {"anchor": 1.0, "anchor_data": "alignment"}
HARMFUL_JOB = [Example.from_pair(p.text, "Okay. Step one: acquire the materials quietly.") for p in HARMFUL_PROMPTS]
BENIGN_JOB = [Example.from_pair(p.text, "Here is a friendly answer.") for p in BENIGN_PROMPTS]


@pytest.fixture
def provider(tiny_dir, pairs):
    """The aligned model, and the provider's inputs: its vectors, whose own harmful pairs are the harmful job."""
    before = load_model(tiny_dir)
    aligned = _aligned(before.model)
    harmful, benign = pairs
    vcfg = VectorsConfig(r=2, alpha=8, train=TrainConfig(lr=1e-2, max_steps=2, batch_size=4, max_length=96))
    vectors, _ = train_vectors(aligned, before.tokenizer, HARMFUL_JOB, benign, vcfg)
    refusals = [Example.from_pair(p.text, "I can't help with that.") for p in HARMFUL_PROMPTS[4:]]
    inputs = StaticInputs(refusals=refusals, benign=benign, vectors=vectors, harmful_pairs=HARMFUL_JOB,
                          screen=(HARMFUL_PROMPTS, BENIGN_PROMPTS), before=tiny_dir)
    return aligned, before.tokenizer, inputs


def _served(provider, job, name, **options):
    aligned, tokenizer, inputs = provider
    defense = build_defense(name, **options)
    defense.prepare(inputs)
    model, result = defense.finetune(copy.deepcopy(aligned), tokenizer, job, CFG)
    return model.state_dict(), result.extra.get("screening")


def _same(a, b) -> bool:
    return all(torch.allclose(a[k], b[k], atol=1e-6) for k in a)


def test_a_job_the_delta_explains_trains_as_delta_vectors_without_the_anchor(provider):
    served, screening = _served(provider, HARMFUL_JOB, "routed-vectors", rank=4, min_flagged=4, **ANCHOR)
    assert screening["route"] == "delta" and screening["flagged"] == len(HARMFUL_JOB)
    assert screening["delta_ratio"] == pytest.approx(1.0, abs=1e-3)  # the job is the provider's own pairs
    delta, _ = _served(provider, HARMFUL_JOB, "delta-vectors", rank=4)
    assert _same(served, delta)
    anchored, _ = _served(provider, HARMFUL_JOB, "delta-vectors", rank=4, **ANCHOR)
    assert not _same(served, anchored)


def test_a_job_the_delta_does_not_explain_adapts_the_providers_vectors(provider):
    options = dict(min_flagged=4, epochs=1, replay=2, lr=2e-2, **ANCHOR)
    served, screening = _served(provider, HARMFUL_JOB, "routed-vectors", rank=4, explained=0.5, **options)
    assert screening["route"] == "adapt" and screening["delta_ratio"] > 0.5 and "adapt_loss" in screening
    adaptive, _ = _served(provider, HARMFUL_JOB, "adaptive-vectors", **options)
    assert _same(served, adaptive)


def test_adapt_from_delta_adapts_the_alignment_delta_as_adaptive_vectors_before_does(provider):
    options = dict(min_flagged=4, epochs=1, replay=2, lr=2e-2, **ANCHOR)
    served, screening = _served(provider, HARMFUL_JOB, "routed-vectors", rank=4, explained=0.5, adapt_from="delta",
                                **options)
    assert screening["route"] == "adapt"
    from_delta, _ = _served(provider, HARMFUL_JOB, "adaptive-vectors", before=provider[2].before, rank=4, **options)
    assert _same(served, from_delta)
    from_provider, _ = _served(provider, HARMFUL_JOB, "routed-vectors", rank=4, explained=0.5, **options)
    assert not _same(served, from_provider)


def test_a_job_with_too_few_flagged_keeps_the_providers_vectors_and_the_anchor(provider):
    served, screening = _served(provider, BENIGN_JOB, "routed-vectors", rank=4, min_flagged=4, **ANCHOR)
    assert screening["route"] == "provider" and screening["flagged"] == 0 and "delta_ratio" not in screening
    plain, _ = _served(provider, BENIGN_JOB, "security-vectors", **ANCHOR)
    assert _same(served, plain)
    unanchored, _ = _served(provider, BENIGN_JOB, "security-vectors")
    assert not _same(served, unanchored)


def test_project_guards_the_delta_route_only(provider):
    served, screening = _served(provider, HARMFUL_JOB, "routed-vectors", rank=4, min_flagged=4, project="both")
    assert screening["route"] == "delta"
    guarded, _ = _served(provider, HARMFUL_JOB, "delta-vectors", rank=4, project="both")
    unguarded, _ = _served(provider, HARMFUL_JOB, "delta-vectors", rank=4)
    assert _same(served, guarded) and not _same(served, unguarded)
    served, screening = _served(provider, BENIGN_JOB, "routed-vectors", rank=4, min_flagged=4, project="both", **ANCHOR)
    assert screening["route"] == "provider"
    plain, _ = _served(provider, BENIGN_JOB, "security-vectors", **ANCHOR)
    assert _same(served, plain)


def test_stack_provider_trains_the_delta_route_under_delta_plus_scaled_providers_vectors_guarded_by_the_delta(
        provider):
    from secvec.config import LLAMA_LINEAR
    from secvec.vectors import protected_finetune, stacked
    from secvec.vectors.delta import delta_from

    aligned, tokenizer, inputs = provider
    options = dict(rank=4, min_flagged=4, project={"mode": "both", "radius": 0.3}, **ANCHOR)
    served, screening = _served(provider, HARMFUL_JOB, "routed-vectors", stack_provider=0.25, **options)
    assert screening["route"] == "delta"
    delta = delta_from(aligned, inputs.before, 4, LLAMA_LINEAR)

    def by_hand(vectors, guard):  # the delta route: no anchor, whatever the options say
        model, _ = protected_finetune(copy.deepcopy(aligned), tokenizer, HARMFUL_JOB, CFG, vectors,
                                      project=options["project"], guard=guard)
        return model.state_dict()

    both = stacked(delta, inputs.vectors.scaled(0.25))
    assert _same(served, by_hand(both, delta))
    assert not _same(served, by_hand(both, None))  # guarded by the delta, not the stack
    assert not _same(served, by_hand(stacked(delta, inputs.vectors), delta))  # the scale is applied
    unstacked, _ = _served(provider, HARMFUL_JOB, "routed-vectors", **options)
    assert _same(unstacked, by_hand(delta, delta)) and not _same(served, unstacked)
    on_stack, _ = _served(provider, HARMFUL_JOB, "routed-vectors", stack_provider=0.25, guard_stack=True, **options)
    assert _same(on_stack, by_hand(both, both)) and not _same(on_stack, served)  # guard_stack: the stack's subspace


def test_the_provider_route_takes_its_own_anchor_data_and_the_adapt_route_keeps_anchor_data(provider):
    options = dict(rank=4, min_flagged=4, anchor=1.0, anchor_data="alignment", provider_anchor_data="safe")
    served, screening = _served(provider, BENIGN_JOB, "routed-vectors", **options)
    assert screening["route"] == "provider"
    safe, _ = _served(provider, BENIGN_JOB, "security-vectors", anchor=1.0, anchor_data="safe")
    whole, _ = _served(provider, BENIGN_JOB, "security-vectors", **ANCHOR)
    assert _same(served, safe) and not _same(served, whole)
    adapt = dict(epochs=1, replay=2, lr=2e-2)
    served, screening = _served(provider, HARMFUL_JOB, "routed-vectors", **options, **adapt, explained=0.5)
    assert screening["route"] == "adapt"
    adaptive, _ = _served(provider, HARMFUL_JOB, "adaptive-vectors", min_flagged=4, **adapt, **ANCHOR)
    assert _same(served, adaptive)


def test_routed_vectors_need_the_model_before_alignment_and_sane_options(pairs):
    with pytest.raises(ConfigError, match="before safety alignment"):
        build_defense("routed-vectors").prepare(StaticInputs(screen=(HARMFUL_PROMPTS, BENIGN_PROMPTS)))
    with pytest.raises(ConfigError, match="explained > 0"):
        build_defense("routed-vectors", explained=0)
    with pytest.raises(ConfigError, match="adapt_from provider or delta"):
        build_defense("routed-vectors", adapt_from="scratch")
    for bad in ("provider", -0.5, True):
        with pytest.raises(ConfigError, match="stack_provider a number >= 0"):
            build_defense("routed-vectors", stack_provider=bad)
    for bad in ({"guard_stack": True, "project": "both"}, {"guard_stack": True, "stack_provider": 0.25},
                {"guard_stack": "yes", "stack_provider": 0.25, "project": "both"}):
        with pytest.raises(ConfigError, match=r"guard_stack true or false \(true only with a stack and project\)"):
            build_defense("routed-vectors", **bad)
    with pytest.raises(ConfigError, match="accepted options"):
        build_defense("routed-vectors", bogus=1)
    with pytest.raises(ConfigError, match="provider_anchor_data must be one of safe, alignment"):
        build_defense("routed-vectors", provider_anchor_data="sensitive")
