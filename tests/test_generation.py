import torch

from secvec.config import GenerationConfig
from secvec.generation import generate


def test_batched_equals_one_at_a_time_and_keeps_order(tiny):
    prompts = ["hi", "a much longer prompt than the others, to force padding", "mid length prompt"]
    cfg = GenerationConfig(max_new_tokens=8, batch_size=3)
    batched = generate(tiny.model, tiny.tokenizer, prompts, cfg)
    single = [generate(tiny.model, tiny.tokenizer, [p], cfg.model_copy(update={"batch_size": 1}))[0] for p in prompts]
    assert [g.prompt for g in batched] == prompts
    assert [g.response for g in batched] == [g.response for g in single]
    assert all(g.response_tokens <= 8 and g.prompt_tokens > 0 for g in batched)
    assert any(g.response_tokens > 0 for g in batched)


def test_sampling_is_seeded(tiny):
    cfg = GenerationConfig(max_new_tokens=8, do_sample=True, seed=3)
    a = generate(tiny.model, tiny.tokenizer, ["x", "y"], cfg)
    b = generate(tiny.model, tiny.tokenizer, ["x", "y"], cfg)
    assert [g.response for g in a] == [g.response for g in b]


def test_progress_reports_every_batch(tiny):
    seen = []
    generate(tiny.model, tiny.tokenizer, ["a", "b", "c"], GenerationConfig(max_new_tokens=2, batch_size=2),
             progress=lambda d, t: seen.append((d, t)))
    assert seen == [(2, 3), (3, 3)]
