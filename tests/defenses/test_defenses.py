"""Each defense on the tiny model: what it trains on, and that it does what its paper says."""

import copy

import pytest
import torch

from secvec.config import TrainConfig, VectorsConfig
from secvec.data.schema import Example
from secvec.data.tokenize import encode_examples
from secvec.defenses import StaticInputs, available_defenses, build_defense
from secvec.defenses.lisa import Proximal, bistate_schedule
from secvec.defenses.safety_mix import mix_refusals
from secvec.errors import ConfigError, DataError
from secvec.vectors import protected_finetune, train_vectors

CFG = TrainConfig(lr=1e-2, max_steps=3, batch_size=4, max_length=96)


@pytest.fixture
def refusals():
    return [Example.from_pair(f"how do I do bad thing {i}?", "I can't help with that.", source="refusal")
            for i in range(3)]


def _weights(model):
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def _distance(a, b):
    return sum(((a[k] - b[k]).float() ** 2).sum().item() for k in a) ** 0.5


def test_registry_names_and_bad_options():
    assert available_defenses() == ["adaptive-vectors", "delta-vectors", "lisa", "none", "routed-vectors", "safety-mix",
                                    "security-vectors"]
    with pytest.raises(ConfigError, match="unknown defense .nope.; known: adaptive-vectors, delta-vectors, lisa, none"):
        build_defense("nope")
    with pytest.raises(ConfigError, match="accepted options: ratio"):
        build_defense("safety-mix", rate=0.1)
    with pytest.raises(ConfigError, match="ratio"):
        build_defense("safety-mix", ratio=-1)
    assert build_defense("lisa", rho=2).describe() == {"name": "lisa", "options": {"rho": 2}}


def test_safety_mix_adds_the_right_number_of_refusals_and_keeps_user_data(pairs, refusals):
    _, benign = pairs
    mixed = mix_refusals(benign, refusals, ratio=0.5, seed=0)
    assert len(mixed) == 12 and sum(e.source == "refusal" for e in mixed) == 4
    assert sorted(e.prompt for e in mixed if e.source != "refusal") == sorted(e.prompt for e in benign)
    assert [e.prompt for e in mixed] == [e.prompt for e in mix_refusals(benign, refusals, 0.5, seed=0)]
    cycled = mix_refusals(benign, refusals, ratio=2.0, seed=1)  # 16 needed from a pool of 3: spread evenly
    counts = sorted(sum(e.prompt == r.prompt for e in cycled) for r in refusals)
    assert sum(counts) == 16 and counts[-1] - counts[0] <= 1
    assert len(mix_refusals(benign, [], ratio=0.0, seed=0)) == 8
    with pytest.raises(DataError, match="no refusal examples"):
        mix_refusals(benign, [], ratio=0.5, seed=0)


def test_safety_mix_trains_on_the_mixed_set(tiny, pairs, refusals):
    _, benign = pairs
    defense = build_defense("safety-mix", ratio=0.5)
    defense.prepare(StaticInputs(refusals=refusals))
    _, result = defense.finetune(tiny.model, tiny.tokenizer, benign, CFG)
    assert result.examples == 12 and result.steps == 3


def test_none_and_security_vectors_are_protected_finetune(tiny, pairs):
    harmful, benign = pairs
    base = copy.deepcopy(tiny.model)
    vec_cfg = VectorsConfig(r=2, alpha=8, train=TrainConfig(lr=1e-2, max_steps=2, batch_size=4, max_length=96))
    vectors, _ = train_vectors(copy.deepcopy(base), tiny.tokenizer, harmful, benign, vec_cfg)

    for name, sv in (("none", None), ("security-vectors", vectors)):
        defense = build_defense(name)
        defense.prepare(StaticInputs(vectors=vectors))
        got, r1 = defense.finetune(copy.deepcopy(base), tiny.tokenizer, harmful, CFG)
        want, r2 = protected_finetune(copy.deepcopy(base), tiny.tokenizer, harmful, CFG, sv)
        assert r1.losses == r2.losses, name
        for (k, a), b in zip(_weights(got).items(), _weights(want).values()):
            torch.testing.assert_close(a, b, msg=k)
    with pytest.raises(DataError, match="needs security vectors"):
        build_defense("security-vectors").prepare(StaticInputs())


def test_anchor_trains_the_vectors_off_model_on_safe_answers_only(tiny, pairs, refusals):
    from secvec.data.tokenize import collate
    from secvec.training.sft import lm_loss
    from secvec.vectors import vectors_on
    from secvec.vectors.protect import VectorsOffAnchor

    harmful, benign = pairs
    base = copy.deepcopy(tiny.model)
    vec_cfg = VectorsConfig(r=2, alpha=8, train=TrainConfig(lr=1e-2, max_steps=2, batch_size=4, max_length=96))
    vectors, _ = train_vectors(copy.deepcopy(base), tiny.tokenizer, harmful, benign, vec_cfg)

    # Inside the merged block the anchor's loss is the vectors-off model's loss on its batch.
    anchor = VectorsOffAnchor(tiny.tokenizer, benign, vectors, 2.0, 4, TrainConfig(max_length=96, seed=0))
    batch = collate(anchor.batches.encoded[:4], tiny.tokenizer.pad_token_id)
    want = lm_loss(base, batch)

    class Acc:
        device = torch.device("cpu")
        unwrap_model = staticmethod(lambda m: m)

    anchor.batches.next = lambda device: batch
    model = copy.deepcopy(base)
    with vectors_on(model, vectors):
        got = anchor(model, Acc())
        got.backward()
    torch.testing.assert_close(got, 2.0 * want)
    assert all(p.grad is not None for p in model.parameters() if p.requires_grad)

    # The defense draws its anchor from the alignment set minus the refusals, and it moves the
    # protected job: the served model keeps more of the safe answers than without it.
    defense = build_defense("security-vectors", anchor=1.0)
    defense.prepare(StaticInputs(vectors=vectors, refusals=refusals, benign=benign))
    assert defense.anchor_pairs == benign
    whole = build_defense("security-vectors", anchor=1.0, anchor_data="alignment")
    whole.prepare(StaticInputs(vectors=vectors, refusals=refusals, benign=benign))
    assert whole.anchor_pairs == refusals + benign
    with pytest.raises(ConfigError, match="anchor_data must be one of safe, alignment, recovery"):
        build_defense("security-vectors", anchor=1.0, anchor_data="all")
    cfg = CFG.model_copy(update={"max_steps": 4})
    anchored, result = defense.finetune(copy.deepcopy(base), tiny.tokenizer, harmful, cfg)
    plain, _ = protected_finetune(copy.deepcopy(base), tiny.tokenizer, harmful, cfg, vectors)
    assert len(result.reg_losses) == 4
    safe = collate(encode_examples(tiny.tokenizer, benign, 96), tiny.tokenizer.pad_token_id)
    with torch.no_grad():
        assert lm_loss(anchored, safe) < lm_loss(plain, safe)


def test_anchor_cover_rehearses_every_anchor_pair_in_a_short_job(tiny, pairs):
    from secvec.vectors.protect import covering_batch

    # The matrix's written-pairs job: 100 examples, batch 8, 2 epochs = 26 draws; 262 alignment pairs.
    job = TrainConfig(batch_size=8, epochs=2)
    assert covering_batch(4, 262, 100, job) == 11
    assert covering_batch(4, 262, 1000, job) == 4            # a long job already covers: the minimum
    assert covering_batch(4, 262, 100, job.model_copy(update={"max_steps": 5, "grad_accum": 2})) == 27

    harmful, benign = pairs
    anchor_set = [Example.from_pair(f"name a colour number {i}", f"Colour {i} is blue.") for i in range(30)]
    vectors, _ = train_vectors(copy.deepcopy(tiny.model), tiny.tokenizer, harmful, benign,
                               VectorsConfig(r=2, alpha=8, train=TrainConfig(max_steps=1, batch_size=4, max_length=96)))
    cfg = CFG  # 3 steps of 4: three anchor draws

    def rehearsed(**options) -> int:
        defense = build_defense("security-vectors", anchor=1.0, **options)
        defense.prepare(StaticInputs(vectors=vectors, benign=anchor_set))
        anchor = defense.anchor_for(tiny.tokenizer, vectors, cfg, len(harmful))
        seen = set()
        for _ in range(cfg.max_steps):
            batch = anchor.batches.next()
            seen |= {tuple(ids[mask.bool()].tolist()) for ids, mask in zip(batch["input_ids"], batch["attention_mask"])}
        return len(seen)

    assert rehearsed() == 12                                  # 3 draws of 4: most of the set never trained
    assert rehearsed(anchor_cover=True) == 30
    with pytest.raises(ConfigError, match="anchor_cover must be true or false"):
        build_defense("security-vectors", anchor=1.0, anchor_cover="yes")
    with pytest.raises(ConfigError, match="anchor needs the merge method"):
        build_defense("security-vectors", anchor=1.0, method="active")


def test_taking_the_vectors_out_mid_job_does_not_warn_about_weights_the_job_trained(tiny, pairs, caplog):
    """Inside a protected job (checkpoints, the anchor) the weights differ from the vectors' base by
    design; a model the vectors were not trained on, outside a job, still gets the warning."""
    import logging

    from secvec.vectors.protect import merged, taken_out

    harmful, benign = pairs
    vec_cfg = VectorsConfig(r=2, alpha=8, train=TrainConfig(lr=1e-2, max_steps=1, batch_size=4, max_length=96))
    vectors, _ = train_vectors(copy.deepcopy(tiny.model), tiny.tokenizer, harmful, benign, vec_cfg)
    model = copy.deepcopy(tiny.model)
    with caplog.at_level(logging.WARNING), merged(model, vectors):
        with torch.no_grad():  # what a full fine-tuning step does to the weights the fingerprint reads
            model.get_input_embeddings().weight.add_(0.01)
        with taken_out(model, vectors):
            pass
    assert "trained on other weights" not in caplog.text
    with caplog.at_level(logging.WARNING):
        vectors.target_weights(model)
    assert "trained on other weights" in caplog.text


def test_recovery_anchor_is_the_alignment_set_plus_recovery_pairs_of_the_vector_pairs(pairs, refusals):
    from secvec.data.recovery import recovery_pairs

    harmful, benign = pairs
    defense = build_defense("security-vectors", anchor=1.0, anchor_data="recovery")
    defense.prepare_anchor(StaticInputs(harmful_pairs=harmful, refusals=refusals, benign=benign))
    assert defense.anchor_pairs == refusals + benign + recovery_pairs(harmful, refusals)
    sensitive = [Example.from_pair("How did the Black Death spread?", "Through fleas on rats.")]
    wider = build_defense("security-vectors", anchor=1.0, anchor_data="recovery-sensitive")
    wider.prepare_anchor(StaticInputs(harmful_pairs=harmful, refusals=refusals, benign=benign, sensitive=sensitive))
    assert wider.anchor_pairs == defense.anchor_pairs + sensitive * 2


def test_bistate_schedule():
    assert bistate_schedule(40, 2, 18) == [("align", 2), ("user", 18), ("align", 2), ("user", 18),
                                           ("align", 2), ("user", 4)]
    assert bistate_schedule(5, 0, 3) == [("user", 3), ("user", 2)]


def test_proximal_term_value_and_pull_toward_anchor(tiny):
    model = tiny.model
    prox = Proximal(model, rho=4.0)

    class Acc:
        unwrap_model = staticmethod(lambda m: m)

    assert prox(model, Acc()).item() == 0.0
    p = next(model.parameters())
    with torch.no_grad():
        p.add_(0.5)
    value = prox(model, Acc())
    assert value.item() == pytest.approx(4.0 / 2 * 0.25 * p.numel(), rel=1e-5)
    value.backward()
    torch.testing.assert_close(p.grad, torch.full_like(p, 4.0 * 0.5))  # gradient descent moves p back


def test_lisa_alternates_states_over_the_users_data(tiny, pairs, refusals, monkeypatch):
    import secvec.defenses.lisa as lisa

    harmful, benign = pairs
    calls = []
    real_train = lisa.train

    def recording_train(model, tokenizer, data, cfg, **kw):
        calls.append(([e.input_ids for e in data], cfg.max_steps, kw["regularizer"]))
        return real_train(model, tokenizer, data, cfg, **kw)

    monkeypatch.setattr(lisa, "train", recording_train)
    defense = build_defense("lisa", align_steps=1, user_steps=2, rho=1.0)
    defense.prepare(StaticInputs(refusals=refusals, benign=benign))
    cfg = TrainConfig(lr=1e-2, epochs=2, batch_size=4, max_length=96)  # 8 examples: 4 user steps
    _, result = defense.finetune(tiny.model, tiny.tokenizer, harmful, cfg)

    assert defense.schedule == [("align", 1), ("user", 2), ("align", 1), ("user", 2)]
    user_seen = [ids for ids, _, _ in calls[1::2]]
    assert [steps for _, steps, _ in calls] == [1, 2, 1, 2]
    assert all(len(ids) == 4 for ids, _, _ in calls[0::2]) and all(len(ids) == 8 for ids in user_seen)
    user_ids = sorted(e.input_ids for e in encode_examples(tiny.tokenizer, harmful, 96))
    assert sorted(i for ids in user_seen for i in ids) == sorted(user_ids * 2)  # both epochs, nothing lost
    align_enc = [e.input_ids for e in encode_examples(tiny.tokenizer, refusals + benign, 96)]
    assert all(i in align_enc for ids, _, _ in calls[0::2] for i in ids)
    assert len({id(reg) for _, _, reg in calls}) == 4  # a fresh anchor at every switch
    assert result.steps == 6 and len(result.losses) == 6 and len(result.reg_losses) == 6


def test_lisa_proximal_term_keeps_weights_near_the_anchor(tiny, pairs):
    harmful, _ = pairs
    base = copy.deepcopy(tiny.model)
    start = _weights(base)
    cfg = TrainConfig(lr=1e-2, max_steps=6, batch_size=4, max_length=96)
    dist = {}
    for rho in (0.0, 50.0):
        defense = build_defense("lisa", align_steps=0, user_steps=6, rho=rho)  # one state: anchor = start
        model, _ = defense.finetune(copy.deepcopy(base), tiny.tokenizer, harmful, cfg)
        dist[rho] = _distance(_weights(model), start)
    assert dist[50.0] < 0.5 * dist[0.0]
