"""Batched generation for evaluation and data synthesis.

Prompts are sorted by length so each batch pads little, left-padded (decoder-only models
continue from the right edge), run under `inference_mode`, and returned in input order.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Callable, Optional, Sequence

import torch

from secvec.config import GenerationConfig
from secvec.data.schema import Prompt
from secvec.models.chat import Messages, prompt_text
from secvec.models.precision import for_inference


@dataclass
class Generation:
    prompt: str
    response: str
    prompt_tokens: int
    response_tokens: int

    def to_dict(self) -> dict:
        return asdict(self)


def generate(
    model: torch.nn.Module,
    tokenizer,
    prompts: Sequence[Prompt | str | Messages],
    cfg: GenerationConfig | None = None,
    progress: Optional[Callable[[int, int], None]] = None,
) -> list[Generation]:
    """Answer every prompt; `progress(done, total)` is called after each batch."""
    cfg = cfg or GenerationConfig()
    texts = [prompt_text(tokenizer, p) for p in prompts]
    lengths = [len(tokenizer(t, add_special_tokens=False)["input_ids"]) for t in texts]
    order = sorted(range(len(texts)), key=lambda i: lengths[i])
    results: list[Generation | None] = [None] * len(texts)
    device = next(model.parameters()).device
    if cfg.do_sample:
        torch.manual_seed(cfg.seed)
    side = tokenizer.padding_side
    tokenizer.padding_side = "left"
    was_training = model.training
    model.eval()
    runner, context = for_inference(model, cfg.precision, device)
    try:
        for start in range(0, len(order), cfg.batch_size):
            idx = order[start:start + cfg.batch_size]
            enc = tokenizer([texts[i] for i in idx], return_tensors="pt", padding=True,
                            add_special_tokens=False).to(device)
            with torch.inference_mode(), context:
                out = runner.generate(
                    **enc, max_new_tokens=cfg.max_new_tokens, do_sample=cfg.do_sample,
                    temperature=cfg.temperature if cfg.do_sample else None,
                    top_p=cfg.top_p if cfg.do_sample else None, top_k=None,
                    pad_token_id=tokenizer.pad_token_id,
                )
            new = out[:, enc["input_ids"].shape[1]:]
            for row, i in enumerate(idx):
                tokens = new[row]
                n = int((tokens != tokenizer.pad_token_id).sum())
                if tokenizer.eos_token_id is not None:
                    eos = (tokens == tokenizer.eos_token_id).nonzero()
                    n = int(eos[0]) if len(eos) else len(tokens)
                text = tokenizer.decode(tokens[:n], skip_special_tokens=True).strip()
                prompt = prompts[i]
                shown = prompt.text if isinstance(prompt, Prompt) else prompt if isinstance(prompt, str) else \
                    prompt[-1]["content"]
                results[i] = Generation(shown, text, lengths[i], n)
            if progress:
                progress(min(start + cfg.batch_size, len(order)), len(order))
    finally:
        tokenizer.padding_side = side
        model.train(was_training)
    return results  # type: ignore[return-value]
