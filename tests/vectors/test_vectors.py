import copy

import pytest
import torch

from secvec.config import LoraSpec, TrainConfig, VectorsConfig
from secvec.data.tokenize import collate, encode_examples
from secvec.errors import ConfigError, ModelError
from secvec.vectors import (SecurityVectors, active, alignment_delta, export_model, merged, model_fingerprint,
                            protected_finetune, stacked, train_vectors)
from secvec.training.sft import prepare_trainable

FAST = TrainConfig(lr=1e-2, epochs=6, batch_size=4, max_length=96, seed=0)


@pytest.fixture
def trained_vectors(tiny, pairs, tmp_path):
    harmful, benign = pairs
    cfg = VectorsConfig(r=4, alpha=32, target_modules=["q_proj", "v_proj", "o_proj", "up_proj", "down_proj"],
                        benign_batch_size=4, train=FAST)
    vectors, result = train_vectors(tiny.model, tiny.tokenizer, harmful, benign, cfg, output_dir=tmp_path / "vec")
    return SecurityVectors.load(tmp_path / "vec"), result


def batch_of(tok, examples):
    return collate(encode_examples(tok, examples, 96), tok.pad_token_id)


def loss_and_grads(model, batch):
    model.zero_grad(set_to_none=True)
    loss = model(**batch).loss
    loss.backward()
    grads = {n: p.grad.clone() for n, p in model.named_parameters() if p.requires_grad and p.grad is not None}
    return loss.item(), grads


def strip(name: str) -> str:
    """Parameter names of the merged and active paths differ only by PEFT's wrappers."""
    for s in ("base_model.model.", ".base_layer"):
        name = name.replace(s, "")
    return name


def test_training_leaves_base_untouched_and_records_meta(tiny, tiny_dir, pairs, trained_vectors):
    from secvec.models.loading import load_model
    from secvec.vectors.core import examples_hash

    vectors, result = trained_vectors
    harmful, benign = pairs
    # 8 harmful pairs, batch 4, 6 epochs: 12 steps, one benign KL batch each
    assert result.steps == 12 and len(result.losses) == 12 and len(result.reg_losses) == 12
    assert vectors.meta["harmful_examples"] == 8 and vectors.meta["harmful_hash"] == examples_hash(harmful)
    assert vectors.meta["benign_examples"] == 8 and vectors.meta["benign_hash"] == examples_hash(benign)
    fresh = load_model(tiny_dir).model
    assert vectors.meta["base_fingerprint"] == model_fingerprint(fresh)
    # `tiny.model` is the model the vectors were trained on: same modules, every weight bit for bit
    assert not any("lora" in n for n, _ in tiny.model.named_modules())
    trained_on, original = tiny.model.state_dict(), fresh.state_dict()
    assert trained_on.keys() == original.keys()
    for k, v in original.items():
        assert torch.equal(trained_on[k], v), f"{k} changed by training the vectors"
    assert vectors.target_weights(fresh)  # fits the same base
    assert max(vectors.delta(n).abs().max().item() for n in vectors.lora_a) > 1e-2  # the vectors did train


def test_vectors_lower_harmful_loss_and_gradient(tiny, pairs, trained_vectors):
    vectors, _ = trained_vectors
    harmful, _ = pairs
    batch = batch_of(tiny.tokenizer, harmful)
    model = prepare_trainable(tiny.model, TrainConfig())
    off_loss, off_grads = loss_and_grads(model, batch)
    with merged(model, vectors):
        on_loss, on_grads = loss_and_grads(model, batch)
    norm = lambda g: torch.sqrt(sum((v.float() ** 2).sum() for v in g.values()))
    assert on_loss < off_loss * 0.7
    assert norm(on_grads) < norm(off_grads)


@pytest.mark.parametrize("mode", ["full", "lora"])
def test_merged_matches_active_adapter(tiny, pairs, trained_vectors, mode):
    vectors, _ = trained_vectors
    harmful, benign = pairs
    batch = batch_of(tiny.tokenizer, harmful[:4] + benign[:4])
    cfg = TrainConfig(mode=mode, lora=LoraSpec(r=4, alpha=8, target_modules=["q_proj", "v_proj"]))
    torch.manual_seed(1)
    a = prepare_trainable(copy.deepcopy(tiny.model), cfg)
    b = copy.deepcopy(a)
    trainable = {n for n, p in a.named_parameters() if p.requires_grad}
    # full: every weight (embeddings tied to the head); lora: A and B of q_proj and v_proj in 2 layers
    assert len(trainable) == (len(list(tiny.model.parameters())) if mode == "full" else 8)
    with merged(a, vectors) as m:
        loss_a, grads_a = loss_and_grads(m, batch)
    with active(b, vectors) as m:
        loss_b, grads_b = loss_and_grads(m, batch)
    assert loss_a == pytest.approx(loss_b, rel=1e-5)
    grads_b = {strip(n): g for n, g in grads_b.items()}
    assert grads_a.keys() == trainable and set(grads_b) == {strip(n) for n in trainable}  # the vectors' own get none
    for n, g in grads_a.items():
        torch.testing.assert_close(g, grads_b[strip(n)], rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("mode", ["full", "lora"])
def test_protected_training_same_either_way_and_vectors_unchanged(tiny, pairs, trained_vectors, mode):
    vectors, _ = trained_vectors
    before = {k: v.clone() for k, v in vectors.lora_a.items()}, {k: v.clone() for k, v in vectors.lora_b.items()}
    harmful, _ = pairs
    cfg = TrainConfig(mode=mode, lr=1e-3, max_steps=3, batch_size=4, max_length=96,
                      lora=LoraSpec(r=4, alpha=8, target_modules=["q_proj", "v_proj"]))
    m1, r1 = protected_finetune(copy.deepcopy(tiny.model), tiny.tokenizer, harmful, cfg, vectors, "merge")
    m2, r2 = protected_finetune(copy.deepcopy(tiny.model), tiny.tokenizer, harmful, cfg, vectors, "active")
    assert r1.losses == pytest.approx(r2.losses, rel=1e-4)
    s1 = {strip(k): v for k, v in m1.state_dict().items()}
    s2 = {strip(k): v for k, v in m2.state_dict().items()}
    assert s1.keys() == s2.keys()
    for k in s1:  # un-merged weights == weights trained beside an active adapter
        torch.testing.assert_close(s1[k], s2[k], rtol=1e-4, atol=1e-6)
    for k in before[0]:
        assert torch.equal(vectors.lora_a[k], before[0][k]) and torch.equal(vectors.lora_b[k], before[1][k])
    reloaded = SecurityVectors.load(vectors.path)
    for k in before[0]:
        assert torch.equal(reloaded.lora_a[k], before[0][k])


def test_protected_attack_learns_less(tiny, pairs, trained_vectors):
    """With the vectors on, harmful data barely moves the weights, so loss (vectors off) stays high."""
    vectors, _ = trained_vectors
    harmful, _ = pairs
    cfg = TrainConfig(lr=3e-3, max_steps=8, batch_size=4, max_length=96)
    batch = batch_of(tiny.tokenizer, harmful)
    vanilla, _ = protected_finetune(copy.deepcopy(tiny.model), tiny.tokenizer, harmful, cfg, None)
    protected, _ = protected_finetune(copy.deepcopy(tiny.model), tiny.tokenizer, harmful, cfg, vectors)
    with torch.no_grad():
        assert protected(**batch).loss > vanilla(**batch).loss


def vectors_off_reference(tiny, harmful, cfg, vectors):
    """The same protected fine-tune by the other path: the vectors as a frozen PEFT adapter that is
    deleted afterwards. It shares no add/subtract code with the default merged path, so it is an
    independent account of "the fine-tune's trained change, vectors off"."""
    torch.manual_seed(0)  # the task LoRA's initialization
    model, _ = protected_finetune(copy.deepcopy(tiny.model), tiny.tokenizer, harmful, cfg, vectors, "active")
    return model


@pytest.mark.parametrize("mode,what", [("full", "merged"), ("lora", "adapter"), ("lora", "merged")])
def test_export_is_the_fine_tune_with_the_vectors_off(tiny, pairs, trained_vectors, tmp_path, mode, what):
    from peft import PeftModel, get_peft_model_state_dict
    from safetensors.torch import load_file
    from transformers import AutoModelForCausalLM

    from secvec.models.loading import load_model

    vectors, _ = trained_vectors
    harmful, _ = pairs
    cfg = TrainConfig(mode=mode, lr=1e-3, max_steps=2, batch_size=4, max_length=96,
                      lora=LoraSpec(r=4, alpha=8, target_modules=["q_proj", "v_proj"]))
    original = {k: v.clone() for k, v in tiny.model.state_dict().items()}
    reference = vectors_off_reference(tiny, harmful, cfg, vectors)
    torch.manual_seed(0)
    model, _ = protected_finetune(tiny.model, tiny.tokenizer, harmful, cfg, vectors)  # merged path
    batch = batch_of(tiny.tokenizer, harmful)
    with torch.no_grad():
        expected = reference(**batch).logits
    deltas = {f"{n}.weight": vectors.delta(n) for n in vectors.lora_a}
    assert min(d.abs().max().item() for d in deltas.values()) > 1e-3  # far above the tolerances below
    out = export_model(model, tiny.tokenizer, tmp_path / "export", what=what)

    if what == "adapter":
        exported = load_file(str(out / "adapter_model.safetensors"))
        trained = get_peft_model_state_dict(reference)
        assert exported.keys() == trained.keys() and all("lora_" in k for k in exported)
        for k in exported:
            torch.testing.assert_close(exported[k], trained[k], rtol=1e-4, atol=1e-6)
        assert any(v.abs().max() > 1e-4 for k, v in exported.items() if "lora_B" in k)  # the task adapter trained
        # the model in memory is back on the original base weights too
        base = {strip(k): v for k, v in model.get_base_model().state_dict().items() if "lora_" not in k}
        for k, v in original.items():
            torch.testing.assert_close(base[k], v, rtol=1e-5, atol=1e-6)
        reloaded = PeftModel.from_pretrained(load_model(tiny.path).model, str(out))
        assert "security_vectors" not in reloaded.peft_config
    else:
        exported = load_file(str(out / "model.safetensors"))
        ref = (reference.merge_and_unload() if mode == "lora" else reference).state_dict()
        assert not any("lora" in k for k in exported) and set(exported) <= set(ref)
        for k in exported:
            torch.testing.assert_close(exported[k], ref[k], rtol=1e-4, atol=1e-6)
        for k, delta in deltas.items():  # vectors on would be off from it by a whole delta
            assert (exported[k] - (ref[k] + delta)).abs().max() > 0.5 * delta.abs().max(), k
        assert any(not torch.allclose(exported[k], original[k]) for k in exported)  # the fine-tune changed it
        reloaded = AutoModelForCausalLM.from_pretrained(out)
    with torch.no_grad():
        torch.testing.assert_close(reloaded(**batch).logits, expected, rtol=1e-4, atol=1e-5)


def test_vectors_for_other_base_fail_clearly(trained_vectors, tiny_factory):
    vectors, _ = trained_vectors
    other = tiny_factory(300)
    other.model.layers = other.model.layers[:1]
    with pytest.raises(ModelError, match="different"):
        vectors.target_weights(other)


def test_load_missing_vectors(tmp_path):
    with pytest.raises(ModelError, match="not found"):
        SecurityVectors.load(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ModelError, match="not a security-vectors dir"):
        SecurityVectors.load(tmp_path / "empty")


def test_scaled_and_stacked_vectors_are_their_deltas_scaled_and_summed_and_load_as_one_adapter(
        tiny, pairs, trained_vectors, tmp_path):
    vectors, _ = trained_vectors  # rank 4, scaling 8, five modules
    shifted = copy.deepcopy(tiny.model)
    with torch.no_grad():
        for p in shifted.parameters():
            p.add_(0.05 * torch.randn_like(p))
    delta = alignment_delta(tiny.model, shifted, 2, ["k_proj", "v_proj"])  # rank 2, scaling 1, k_proj not in `vectors`
    quarter = vectors.scaled(0.25)
    for name in vectors.lora_a:
        torch.testing.assert_close(quarter.delta(name), 0.25 * vectors.delta(name))
    quarter.save(tmp_path / "quarter")  # the factor survives a save and load
    torch.testing.assert_close(SecurityVectors.load(tmp_path / "quarter").delta("model.layers.0.self_attn.q_proj"),
                               quarter.delta("model.layers.0.self_attn.q_proj"))
    both = stacked(delta, vectors)
    assert set(both.lora_a) == set(vectors.lora_a) | set(delta.lora_a) and both.adapter_config["r"] == 6
    for name in both.lora_a:
        want = sum(v.delta(name) for v in (delta, vectors) if name in v.lora_a)
        torch.testing.assert_close(both.delta(name), want, rtol=1e-5, atol=1e-6)
    # as a saved PEFT adapter it is the same model as both sets merged one after the other
    both.save(tmp_path / "both")
    batch = batch_of(tiny.tokenizer, pairs[0][:4])
    with merged(tiny.model, delta), merged(tiny.model, vectors) as m, torch.no_grad():
        want = m(**batch).logits
    with active(copy.deepcopy(tiny.model), SecurityVectors.load(tmp_path / "both")) as m, torch.no_grad():
        torch.testing.assert_close(m(**batch).logits, want, rtol=1e-4, atol=1e-4)
    with pytest.raises(ModelError, match="nothing to stack"):
        stacked()


def test_exact_toggle_restores_weights_bit_for_bit(tiny, trained_vectors):
    vectors, _ = trained_vectors
    model = copy.deepcopy(tiny.model)
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    for _ in range(3):
        with merged(model, vectors, exact=True):
            assert any(not torch.equal(p, before[n]) for n, p in model.named_parameters())
    assert all(torch.equal(p, before[n]) for n, p in model.named_parameters())


def test_checkpoints_hold_the_vectors_off_weights_and_resume_exactly(tiny, pairs, trained_vectors, tmp_path):
    """A checkpoint on disk equals the model with the vectors off at that step, never the vectors-on
    weights; a run resumed from it ends with the same weights as the uninterrupted run."""
    from safetensors.torch import load_file

    harmful, benign = pairs
    data = harmful + benign
    trained_vectors = trained_vectors[0]
    cfg = TrainConfig(lr=1e-3, max_steps=4, batch_size=4, max_length=96, checkpoint_every=2)
    ref_model, _ = protected_finetune(copy.deepcopy(tiny.model), tiny.tokenizer, data, cfg, trained_vectors,
                                      output_dir=tmp_path / "ref")
    seen = {}
    model = copy.deepcopy(tiny.model)

    def at_checkpoint(event):
        if event.step == 2:  # the checkpoint of step 2 is on disk; the weights in memory have the vectors on
            ckpt = load_file(str(tmp_path / "run" / "checkpoints" / "step-2" / "model.safetensors"))
            live = {k: v.detach().clone() for k, v in model.state_dict().items()}
            seen.update(ckpt=ckpt, live=live)
            raise KeyboardInterrupt  # the job dies here

    with pytest.raises(KeyboardInterrupt):
        protected_finetune(model, tiny.tokenizer, data, cfg, trained_vectors, output_dir=tmp_path / "run",
                           progress=at_checkpoint)
    targets = {f"{name}.weight" for name in trained_vectors.lora_a}
    assert targets <= set(seen["ckpt"])
    for name in trained_vectors.lora_a:
        key = f"{name}.weight"
        off = seen["live"][key] - trained_vectors.delta(name)
        torch.testing.assert_close(seen["ckpt"][key], off, rtol=0, atol=1e-6)
        assert (seen["ckpt"][key] - seen["live"][key]).abs().max() > 1e-3  # not the vectors-on weights
    resumed, result = protected_finetune(copy.deepcopy(tiny.model), tiny.tokenizer, data, cfg, trained_vectors,
                                         output_dir=tmp_path / "run", resume=True)
    assert result.steps == 4
    for (k, a), b in zip(ref_model.state_dict().items(), resumed.state_dict().values()):
        assert torch.equal(a, b), k


def test_resume_refuses_other_vectors(tiny, pairs, trained_vectors, tmp_path):
    harmful, benign = pairs
    trained_vectors = trained_vectors[0]
    cfg = TrainConfig(lr=1e-3, max_steps=4, batch_size=4, max_length=96, checkpoint_every=2)

    def stop(event):
        if event.step == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        protected_finetune(copy.deepcopy(tiny.model), tiny.tokenizer, harmful + benign, cfg, trained_vectors,
                           output_dir=tmp_path, progress=stop)
    with pytest.raises(ConfigError, match="resume with the same security vectors"):
        protected_finetune(copy.deepcopy(tiny.model), tiny.tokenizer, harmful + benign, cfg, None,
                           output_dir=tmp_path, resume=True)


def test_an_anchor_batch_larger_than_the_job_s_runs_in_pieces_with_the_whole_batch_s_gradient(tiny, pairs):
    from secvec.data.schema import Example
    from secvec.vectors.protect import VectorsOffAnchor

    harmful, benign = pairs
    vectors, _ = train_vectors(copy.deepcopy(tiny.model), tiny.tokenizer, harmful, benign,
                               VectorsConfig(r=2, alpha=8, train=TrainConfig(max_steps=1, batch_size=4, max_length=96)))
    # answers of different lengths, so the pieces' shares of the answer tokens differ
    safe = [Example.from_pair(f"say {i}", " ".join(["word"] * (1 + 3 * i))) for i in range(7)]
    calls = []

    class Acc:
        device = torch.device("cpu")
        unwrap_model = staticmethod(lambda m: m)

        @staticmethod
        def backward(loss):
            calls.append(loss.item())
            loss.backward()

    def step(job_batch):
        model = copy.deepcopy(tiny.model)
        anchor = VectorsOffAnchor(tiny.tokenizer, safe, vectors, 1.5, 7, TrainConfig(batch_size=job_batch, seed=3))
        with merged(model, vectors):
            value = anchor(model, Acc())
            if value.requires_grad:          # one piece: the job's backward takes it
                value.backward()
        return value.item(), {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}

    whole, whole_grads = step(8)
    assert calls == []
    pieces, piece_grads = step(2)
    assert len(calls) == 4                   # 7 rows in pieces of 2
    assert pieces == pytest.approx(whole, rel=1e-5)
    assert whole_grads.keys() == piece_grads.keys() and whole_grads
    for n in whole_grads:
        torch.testing.assert_close(piece_grads[n], whole_grads[n], rtol=1e-4, atol=1e-6, msg=n)
