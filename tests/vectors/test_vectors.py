import copy

import pytest
import torch

from secvec.config import LoraSpec, TrainConfig, VectorsConfig
from secvec.data.tokenize import collate, encode_examples
from secvec.errors import ModelError
from secvec.vectors import SecurityVectors, active, export_model, merged, protected_finetune, train_vectors
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


def test_training_leaves_base_untouched_and_records_meta(tiny_dir, trained_vectors):
    from secvec.models.loading import load_model

    vectors, result = trained_vectors
    assert result.steps > 0 and result.reg_losses, "KL regularizer should run every step"
    assert vectors.meta["harmful_examples"] == 8 and vectors.meta["base_fingerprint"]["arch"]
    fresh = load_model(tiny_dir).model
    assert vectors.target_weights(fresh)  # fits the same base


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
    with merged(a, vectors) as m:
        loss_a, grads_a = loss_and_grads(m, batch)
    with active(b, vectors) as m:
        loss_b, grads_b = loss_and_grads(m, batch)
    assert loss_a == pytest.approx(loss_b, rel=1e-5)
    grads_b = {strip(n): g for n, g in grads_b.items()}
    assert len(grads_a) == len(grads_b) > 0
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


@pytest.mark.parametrize("what", ["merged", "adapter"])
def test_export_has_no_trace_of_vectors(tiny, pairs, trained_vectors, tmp_path, what):
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    vectors, _ = trained_vectors
    harmful, _ = pairs
    mode = "lora" if what == "adapter" else "full"
    cfg = TrainConfig(mode=mode, lr=1e-3, max_steps=2, batch_size=4, max_length=96,
                      lora=LoraSpec(r=4, alpha=8, target_modules=["q_proj", "v_proj"]))
    model, _ = protected_finetune(tiny.model, tiny.tokenizer, harmful, cfg, vectors)
    batch = batch_of(tiny.tokenizer, harmful)
    with torch.no_grad():
        expected = model(**batch).logits
    out = export_model(model, tiny.tokenizer, tmp_path / "export", what=what)
    if what == "adapter":
        from secvec.models.loading import load_model

        base = load_model(tiny.path).model
        reloaded = PeftModel.from_pretrained(base, str(out))
        assert "security_vectors" not in reloaded.peft_config
    else:
        reloaded = AutoModelForCausalLM.from_pretrained(out)
        assert not any("lora" in k for k in reloaded.state_dict())
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


def test_exact_toggle_restores_weights_bit_for_bit(tiny, trained_vectors):
    vectors, _ = trained_vectors
    model = copy.deepcopy(tiny.model)
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    for _ in range(3):
        with merged(model, vectors, exact=True):
            assert any(not torch.equal(p, before[n]) for n, p in model.named_parameters())
    assert all(torch.equal(p, before[n]) for n, p in model.named_parameters())
