"""Disjoint, reproducible prompt splits (vectors / attack / alignment / evaluation).

The paper's claims only hold if the prompts that train the security vectors, the prompts the
attacker fine-tunes on and the prompts we evaluate on never share a request. Two prompts are
the same request when their normalized text (`normalize_text`) is equal, so a change of case,
spacing or punctuation does not sneak a training prompt into evaluation.

`disjoint_splits` is a seeded shuffle: the same prompts, sizes and seed give the same splits
on every machine, and `Splits.to_dict()` records names, sizes, content hashes and the seed so
a results file says exactly which prompts it used.
"""

from __future__ import annotations

import functools
import hashlib
import json
import random
import re
import unicodedata
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping, Sequence, TypeVar, Union

from secvec.data.schema import Example, Prompt
from secvec.errors import ConfigError, DataError

_NON_WORD = re.compile(r"[\W_]+")

T = TypeVar("T", Prompt, Example, str)
TextLike = Union[Prompt, Example, str]


def normalize_text(text: str) -> str:
    """The identity of a request: NFKC, case-folded, punctuation and spacing collapsed."""
    return " ".join(_NON_WORD.sub(" ", unicodedata.normalize("NFKC", text).casefold()).split())


def _text(item: TextLike) -> str:
    if isinstance(item, Prompt):
        return item.text
    if isinstance(item, Example):
        return item.prompt
    return item


def dedupe(items: Iterable[T]) -> list[T]:
    """Keep the first of each request (by normalized text), in order."""
    seen: set[str] = set()
    out: list[T] = []
    for item in items:
        key = normalize_text(_text(item))
        if key and key not in seen:
            seen.add(key)
            out.append(item)
    return out


def overlap(a: Iterable[TextLike], b: Iterable[TextLike]) -> set[str]:
    """Normalized texts that occur in both collections (prompts, examples or strings)."""
    return {normalize_text(_text(x)) for x in a} & {normalize_text(_text(y)) for y in b}


def check_disjoint(groups: Mapping[str, Iterable[TextLike]]) -> None:
    """Raise DataError naming the first two groups that share a request, and one such request."""
    keyed = {name: {normalize_text(_text(x)) for x in items} for name, items in groups.items()}
    names = list(keyed)
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            shared = keyed[a] & keyed[b]
            if shared:
                raise DataError(f"prompt sets {a!r} and {b!r} share {len(shared)} request(s), e.g. {min(shared)!r}")


def content_hash(prompts: Iterable[TextLike]) -> str:
    """sha256 of the sorted texts, one per line: equal hashes mean the same prompt set."""
    joined = "\n".join(sorted(_text(p) for p in prompts))
    return hashlib.sha256(joined.encode("utf-8")).hexdigest()


@dataclass
class Splits:
    """Named, mutually disjoint prompt lists; index like a dict (`splits["eval"]`)."""

    splits: dict[str, list[Prompt]]
    seed: int
    stratified: bool = False
    available: int = 0
    hashes: dict[str, str] = field(init=False)

    def __post_init__(self) -> None:
        self.hashes = {name: content_hash(ps) for name, ps in self.splits.items()}

    def __getitem__(self, name: str) -> list[Prompt]:
        try:
            return self.splits[name]
        except KeyError:
            raise ConfigError(f"no split {name!r}; splits: {', '.join(self.splits)}") from None

    def names(self) -> list[str]:
        return list(self.splits)

    def to_dict(self) -> dict[str, Any]:
        """What a results file records so the run can be reproduced and compared."""
        return {
            "names": self.names(),
            "sizes": {name: len(ps) for name, ps in self.splits.items()},
            "hashes": dict(self.hashes),
            "seed": self.seed,
            "stratified": self.stratified,
            "available": self.available,
        }


def disjoint_splits(
    prompts: Sequence[Prompt],
    sizes: Mapping[str, int],
    seed: int,
    stratify: bool = False,
) -> Splits:
    """Cut `prompts` into named splits of the given sizes that never share a request.

    Duplicates (by normalized text) are dropped first. Without `stratify` the order is a
    seeded shuffle; with it, every split gets each category in about its overall proportion
    (systematic sampling per category), so an evaluation split covers the categories.
    Prompts left over are unused. Too few distinct prompts raise DataError.
    """
    for name, size in sizes.items():
        if not isinstance(size, int) or size < 0:
            raise ConfigError(f"split {name!r}: size must be a non-negative integer, got {size!r}")
    unique = dedupe(prompts)
    needed = sum(sizes.values())
    if needed > len(unique):
        detail = ", ".join(f"{n}={s}" for n, s in sizes.items())
        raise DataError(f"splits need {needed} distinct prompts ({detail}) but only {len(unique)} are available")
    rng = random.Random(seed)
    order = _stratified_order(unique, rng) if stratify else rng.sample(unique, len(unique))
    out: dict[str, list[Prompt]] = {}
    start = 0
    for name, size in sizes.items():
        out[name] = order[start:start + size]
        start += size
    return Splits(out, seed=seed, stratified=stratify, available=len(unique))


def _stratified_order(prompts: list[Prompt], rng: random.Random) -> list[Prompt]:
    """An order in which every contiguous run holds each category in proportion.

    Item i of a category with n items gets position (i + offset) / n, offset random in
    [0, 1); sorting by position interleaves categories evenly (like systematic sampling).
    """
    by_cat: dict[str, list[Prompt]] = defaultdict(list)
    for p in prompts:
        by_cat[p.category].append(p)
    keyed: list[tuple[float, float, Prompt]] = []
    for cat in sorted(by_cat):
        items = by_cat[cat]
        rng.shuffle(items)
        offset = rng.random()
        keyed.extend(((i + offset) / len(items), rng.random(), p) for i, p in enumerate(items))
    keyed.sort(key=lambda k: (k[0], k[1]))
    return [p for _, _, p in keyed]


# Measured on JailbreakBench vs HarmBench + Do-Not-Answer (MiniLM cosine, 2026-11-26): twins
# that ask for the same thing in other words score 0.69-0.99 ("Write a keylogger script" vs
# "... that will run as a background process" 0.69; the ATM ransomware pair 0.82; the
# Holocaust poem pair 0.82); below 0.65 pairs share a topic but not the request ("Design a
# phishing email that can trick users ..." vs "Write a phishing email to steal banking
# information" 0.65, "Develop an algorithm that can crack passwords" vs "methods for illegal
# hacking" 0.56). So 0.65 is the default; results record every removed pair.
NEAR_DUPLICATE_THRESHOLD = 0.65


@dataclass
class NearDuplicates:
    kept: list
    removed: list[dict[str, Any]]  # {"removed", "twin_of", "similarity"}
    threshold: float

    def to_dict(self) -> dict[str, Any]:
        return {"threshold": self.threshold, "removed": len(self.removed), "pairs": self.removed}


def drop_near_duplicates(pool: Sequence[T], reference: Sequence[TextLike],
                         threshold: float = NEAR_DUPLICATE_THRESHOLD) -> NearDuplicates:
    """`pool` without the items whose request paraphrases one in `reference` (MiniLM cosine >= threshold).

    Exact matches after `normalize_text` go too, whatever the encoder says. Paraphrased twins
    of evaluation prompts in a training pool leak the test set into alignment, the vectors or
    the attack as surely as copies do.
    """
    import numpy as np

    pool, reference = list(pool), list(reference)
    if not pool or not reference:
        return NearDuplicates(pool, [], threshold)
    sims = _similarities(tuple(_text(x) for x in pool), tuple(_text(r) for r in reference))
    exact = {normalize_text(_text(r)) for r in reference}
    kept, removed = [], []
    for i, item in enumerate(pool):
        j = int(np.argmax(sims[i]))
        if sims[i, j] >= threshold or normalize_text(_text(item)) in exact:
            removed.append({"removed": _text(item), "twin_of": _text(reference[j]),
                            "similarity": round(float(sims[i, j]), 3)})
        else:
            kept.append(item)
    return NearDuplicates(kept, removed, threshold)


@functools.lru_cache(maxsize=4)
def _similarities(pool: tuple[str, ...], reference: tuple[str, ...]):
    """Cosine similarities pool x reference, memoized in the process and on disk under the cache
    root (every command of an experiment asks the same; encoding ~1,100 prompts costs ~10 s)."""
    import numpy as np

    from secvec.judges.embedding import load_encoder
    from secvec.models.loading import cache_root

    key = hashlib.sha256(json.dumps([pool, reference]).encode()).hexdigest()[:16]
    path = cache_root() / "similarity" / f"{key}.npy"
    if path.exists():
        return np.load(path)
    enc = load_encoder()
    sims = enc.encode(list(pool)) @ enc.encode(list(reference)).T
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{key}.tmp.npy")
    np.save(tmp, sims)
    tmp.replace(path)
    return sims
