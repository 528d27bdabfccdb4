"""Chat formatting, always through the tokenizer's own chat template."""

from __future__ import annotations

from typing import Sequence

from secvec.data.schema import Prompt

Messages = list[dict[str, str]]


def as_messages(item: Prompt | str | Messages) -> Messages:
    if isinstance(item, Prompt):
        return item.messages()
    if isinstance(item, str):
        return [{"role": "user", "content": item}]
    return list(item)


def render(tokenizer, messages: Sequence[dict[str, str]], add_generation_prompt: bool) -> str:
    return tokenizer.apply_chat_template(list(messages), tokenize=False, add_generation_prompt=add_generation_prompt)


def prompt_text(tokenizer, item: Prompt | str | Messages) -> str:
    """The text the model sees before it answers `item`."""
    return render(tokenizer, as_messages(item), add_generation_prompt=True)
