import copy
import json

import pytest
import torch

from secvec.config import TrainConfig
from secvec.data.tokenize import encode_examples
from secvec.training.sft import batch_plan, prepare_trainable, train


def test_batch_plan_is_seeded_and_covers_epochs():
    cfg = TrainConfig(batch_size=3, epochs=2, seed=5)
    plan = batch_plan(7, cfg)
    assert len(plan) == 6 and sorted(i for b in plan[:3] for i in b) == list(range(7))
    assert plan == batch_plan(7, cfg) and plan != batch_plan(7, cfg.model_copy(update={"seed": 6}))
    assert len(batch_plan(7, cfg.model_copy(update={"max_steps": 4, "grad_accum": 2}))) == 8


def test_training_lowers_loss_and_is_reproducible(tiny, pairs):
    harmful, _ = pairs
    cfg = TrainConfig(lr=3e-3, epochs=4, batch_size=4, max_length=96)
    m1 = prepare_trainable(copy.deepcopy(tiny.model), cfg)
    r1 = train(m1, tiny.tokenizer, harmful, cfg)
    m2 = prepare_trainable(copy.deepcopy(tiny.model), cfg)
    r2 = train(m2, tiny.tokenizer, harmful, cfg)
    assert r1.losses[-1] < r1.losses[0]
    assert r1.losses == r2.losses
    encoded = encode_examples(tiny.tokenizer, harmful, cfg.max_length)
    plan = batch_plan(len(encoded), cfg)  # 8 examples, batch 4, 4 epochs
    assert r1.steps == len(plan) == 8 and len(r1.losses) == 8
    assert r1.tokens == r2.tokens == sum(len(encoded[i].input_ids) for batch in plan for i in batch)
    assert r1.seconds > 0 and r1.seconds_per_step == pytest.approx(r1.seconds / 8)


def test_token_count_is_real_tokens_not_padding(tiny, pairs):
    harmful, benign = pairs
    data = [harmful[0], benign[0], harmful[1], benign[1], harmful[2]]  # two lengths, so batches pad
    cfg = TrainConfig(lr=1e-3, max_steps=3, batch_size=2, max_length=96)
    encoded = encode_examples(tiny.tokenizer, data, cfg.max_length)
    assert len({len(e.input_ids) for e in encoded}) == 2
    plan = batch_plan(len(encoded), cfg)
    real = sum(len(encoded[i].input_ids) for batch in plan for i in batch)
    padded = sum(len(batch) * max(len(encoded[i].input_ids) for i in batch) for batch in plan)
    assert real < padded
    result = train(prepare_trainable(tiny.model, cfg), tiny.tokenizer, data, cfg)
    assert result.steps == 3 and result.tokens == real
    assert result.tokens_per_second == pytest.approx(real / result.seconds)


def test_lora_trains_only_adapter(tiny, pairs):
    harmful, _ = pairs
    cfg = TrainConfig(mode="lora", lr=1e-2, max_steps=2, batch_size=4, max_length=96)
    before = {k: v.clone() for k, v in tiny.model.state_dict().items()}
    model = prepare_trainable(tiny.model, cfg)
    train(model, tiny.tokenizer, harmful, cfg)
    after = model.get_base_model().state_dict()
    changed = [k for k, v in after.items() if "lora_" in k or not torch.equal(v, before[k.replace(".base_layer", "")])]
    assert changed and all("lora_" in k for k in changed)


def test_checkpoint_resume_matches_uninterrupted(tiny, pairs, tmp_path):
    harmful, benign = pairs
    data = harmful + benign
    cfg = TrainConfig(lr=1e-3, max_steps=6, batch_size=4, max_length=96, checkpoint_every=2)
    full = prepare_trainable(copy.deepcopy(tiny.model), cfg)
    ref = train(full, tiny.tokenizer, data, cfg)

    # interrupt after step 4 (Ctrl-C), then resume the same job
    part = prepare_trainable(copy.deepcopy(tiny.model), cfg)
    with pytest.raises(KeyboardInterrupt):
        train(part, tiny.tokenizer, data, cfg, output_dir=tmp_path, progress=_stop_after(4))
    ckpts = list((tmp_path / "checkpoints").glob("step-*"))
    assert [c.name for c in ckpts] == ["step-4"]
    resumed_model = prepare_trainable(copy.deepcopy(tiny.model), cfg)
    resumed = train(resumed_model, tiny.tokenizer, data, cfg, output_dir=tmp_path, resume=True)
    assert resumed.steps == 6 and len(resumed.losses) == 2
    assert resumed.losses == pytest.approx(ref.losses[4:], rel=1e-4)
    for (k, a), b in zip(full.state_dict().items(), resumed_model.state_dict().values()):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-6)
    assert json.loads((tmp_path / "train_log.json").read_text())["steps"] == 6




def _stop_after(n):
    def progress(event):
        if event.step == n:
            raise KeyboardInterrupt

    return progress


def test_bf16_autocast_trains_and_leaves_a_plain_fp32_model(tiny, pairs):
    model = copy.deepcopy(tiny.model)
    harmful, _ = pairs
    result = train(prepare_trainable(model, TrainConfig(lr=1e-2)), tiny.tokenizer, harmful,
                   TrainConfig(lr=1e-2, epochs=3, batch_size=4, precision="bf16"))
    assert result.losses[-1] < result.losses[0]
    assert all(p.dtype == torch.float32 for p in model.parameters())  # master weights stay fp32
    ids = tiny.tokenizer("hello", return_tensors="pt")["input_ids"]
    assert model(input_ids=ids).logits.dtype == torch.float32  # no autocast wrapper left behind


def test_lm_loss_equals_the_models_own_loss(tiny, pairs):
    """Keeping logits only at answer positions must not change the loss or its gradient."""
    from secvec.data.tokenize import collate
    from secvec.training.sft import lm_loss

    harmful, benign = pairs
    encoded = encode_examples(tiny.tokenizer, [harmful[0], benign[1], harmful[2]], 96)
    batch = collate(encoded, tiny.tokenizer.pad_token_id)
    model = tiny.model
    ours = lm_loss(model, batch)
    ours.backward()
    grad = model.lm_head.weight.grad.clone()
    model.zero_grad()
    theirs = model(**batch).loss
    theirs.backward()
    torch.testing.assert_close(ours, theirs)
    torch.testing.assert_close(grad, model.lm_head.weight.grad)
    model.zero_grad()


def test_training_uses_eager_attention_on_cpu_and_restores_it(tiny, pairs):
    seen = []
    cfg = TrainConfig(lr=1e-3, max_steps=2, batch_size=4, max_length=96)
    model = prepare_trainable(copy.deepcopy(tiny.model), cfg)
    model.config._attn_implementation = "sdpa"
    train(model, tiny.tokenizer, pairs[0], cfg,
          progress=lambda ev: seen.append(model.config._attn_implementation))
    assert seen == ["eager", "eager"]
    assert model.config._attn_implementation == "sdpa"
