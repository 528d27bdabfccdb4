"""The harmful-prompt source registry and its one entry point, `harmful_prompts`.

A source is a function `(**options) -> list[Prompt]` registered under a name; adding one is a
new module here plus one import line in `__init__`. Callers get prompts deduplicated by
normalized text, so a source's templated repeats never count twice.
"""

from __future__ import annotations

from typing import Any, Callable

from secvec.data.schema import Prompt
from secvec.registry import call_with_options
from secvec.data.splits import dedupe
from secvec.errors import DataError
from secvec.registry import Registry

HarmfulSource = Callable[..., list[Prompt]]

HARMFUL_SOURCES: Registry[HarmfulSource] = Registry("harmful prompt source")


def harmful_prompts(name: str, **options: Any) -> list[Prompt]:
    """Prompts of source `name`, first occurrence of each request kept, in source order."""
    source = HARMFUL_SOURCES.get(name)
    prompts = dedupe(call_with_options("harmful prompt source", name, source, **options))
    if not prompts:
        raise DataError(f"harmful prompt source {name!r} gave no prompts with options {options}")
    return prompts


def available_sources() -> list[str]:
    return HARMFUL_SOURCES.names()
