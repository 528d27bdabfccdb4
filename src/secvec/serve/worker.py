"""The one thread that touches the model: requests queue here and run one at a time.

`vectors_on` edits the weights in place, so two requests must never overlap. A single-thread
executor runs them in arrival order (its queue is unbounded: no request is dropped) while the
event loop keeps accepting connections. The tokenizer is only used on this thread too (the
generation code changes its padding side).
"""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Optional

from secvec.config import GenerationConfig
from secvec.generation import generate
from secvec.models import LoadedModel, prompt_text
from secvec.serve.protocol import APIError
from secvec.vectors import SecurityVectors, vectors_on


@dataclass
class Reply:
    text: str
    prompt_tokens: int
    completion_tokens: int


class ModelWorker:
    """Generates answers with the vectors on or off, serialized on one thread."""

    def __init__(self, lm: LoadedModel, vectors: Optional[SecurityVectors] = None):
        self.model, self.tokenizer, self.vectors = lm.model, lm.tokenizer, vectors
        self.context = getattr(getattr(self.model, "config", None), "max_position_embeddings", None)
        if vectors is not None:  # fail here, at startup, on a model the vectors do not fit
            vectors.target_weights(self.model)
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="secvec-serve")

    async def answer(self, messages: list[dict[str, str]], cfg: GenerationConfig, with_vectors: bool) -> Reply:
        """Queue one request; raises `APIError` for prompts the model cannot take."""
        return await asyncio.wrap_future(self._pool.submit(self._answer, messages, cfg, with_vectors))

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)

    def _answer(self, messages: list[dict[str, str]], cfg: GenerationConfig, with_vectors: bool) -> Reply:
        prompt_tokens = self._check_prompt(messages, cfg.max_new_tokens)
        # exact: subtracting the delta after each request would leave float rounding behind, and
        # a long-running server would drift from the base model.
        with vectors_on(self.model, self.vectors if with_vectors else None, exact=True) as model:
            gen = generate(model, self.tokenizer, [messages], cfg)[0]
        return Reply(gen.response, prompt_tokens, gen.response_tokens)

    def _check_prompt(self, messages: list[dict[str, str]], max_new_tokens: int) -> int:
        from jinja2 import TemplateError

        try:
            text = prompt_text(self.tokenizer, messages)
        except TemplateError as e:
            raise APIError(400, f"the model's chat template rejects these messages: {e}", param="messages",
                           code="invalid_messages") from None
        n = len(self.tokenizer(text, add_special_tokens=False)["input_ids"])
        if self.context and n + max_new_tokens > self.context:
            raise APIError(400, f"the prompt is {n} tokens; with max_tokens {max_new_tokens} that is over the "
                           f"model's context of {self.context} tokens", param="messages",
                           code="context_length_exceeded")
        return n
