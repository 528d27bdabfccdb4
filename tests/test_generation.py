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
    # byte-level tokenizer: "<|im_start|>user\n" + prompt + "<|im_end|>\n<|im_start|>assistant\n" is 19 + len(prompt)
    assert [g.prompt_tokens for g in batched] == [len(p) + 19 for p in prompts]
    assert [g.response_tokens for g in batched] == [g.response_tokens for g in single]
    for p, g in zip(prompts, batched):  # each answer as a plain, unpadded transformers call gives it
        new = plain_greedy(tiny, p, 8)
        assert g.response_tokens == len(new) and g.response == tiny.tokenizer.decode(new, skip_special_tokens=True).strip()
    assert any(g.response_tokens == 8 for g in batched)  # a random model rarely stops early


def plain_greedy(lm, prompt, max_new_tokens):
    """The new tokens, up to (not including) the first end-of-turn, of a batch-of-one greedy `generate`."""
    tok = lm.tokenizer
    enc = tok(tok.apply_chat_template([{"role": "user", "content": prompt}], tokenize=False, add_generation_prompt=True),
              return_tensors="pt", add_special_tokens=False)
    with torch.no_grad():
        out = lm.model.generate(**enc, max_new_tokens=max_new_tokens, do_sample=False,
                                pad_token_id=tok.pad_token_id)[0, enc["input_ids"].shape[1]:]
    stop = (out == tok.eos_token_id).nonzero()
    return out[: int(stop[0])] if len(stop) else out


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
