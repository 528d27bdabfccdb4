"""Sarcastic-headline detection from the OpenAI evals registry (evals 3.0.1.post1).

`evals/registry/data/sarcasm/samples.jsonl` holds chat records: `input` = [system, user
headline], `ideal` = "1" (sarcastic) or "0". We ask "Is this headline sarcastic? Answer yes
or no." and score the first yes/no word. Samples are label-balanced by default, so a
model that always says one word scores 50%, not the class frequency.
"""

from __future__ import annotations

import json
import random
import re
from functools import lru_cache

from secvec.data.schema import Example, Prompt
from secvec.data.sources.packaged import package_file
from secvec.data.splits import normalize_text
from secvec.errors import DataError
from secvec.tasks.base import TASKS, TaskItem, is_test_key

PACKAGE, VERSION, RELPATH = "evals", "3.0.1.post1", "registry/data/sarcasm/samples.jsonl"
QUESTION = "Is this headline sarcastic? Answer yes or no.\nHeadline: {headline}"
LABELS = {"1": "yes", "0": "no"}
_YES_NO = re.compile(r"\b(yes|no)\b", re.IGNORECASE)


@lru_cache(maxsize=1)
def sarcasm_headlines() -> tuple[tuple[str, str], ...]:
    """(headline, "yes"/"no") pairs, deduplicated; headlines labelled both ways are dropped."""
    path = package_file(PACKAGE, VERSION, RELPATH)
    labels: dict[str, set[str]] = {}
    first: dict[str, str] = {}
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
            headline = next(m["content"] for m in rec["input"] if m["role"] == "user").strip()
            label = LABELS[str(rec["ideal"])]
        except (json.JSONDecodeError, KeyError, StopIteration, TypeError):
            raise DataError(f"{path}:{n}: expected {{'input': [..user headline..], 'ideal': '0'|'1'}}") from None
        key = normalize_text(headline)
        labels.setdefault(key, set()).add(label)
        first.setdefault(key, headline)
    return tuple((first[k], next(iter(v))) for k, v in labels.items() if len(v) == 1)


@lru_cache(maxsize=2)
def _partition(test: bool) -> tuple[tuple[str, str], ...]:
    return tuple((h, y) for h, y in sarcasm_headlines() if is_test_key(h) == test)


def first_yes_no(text: str) -> str | None:
    m = _YES_NO.search(text)
    return m.group(1).lower() if m else None


@TASKS.register("sarcasm")
class Sarcasm:
    name = "sarcasm"
    max_new_tokens = 8

    def __init__(self, balanced: bool = True) -> None:
        self.balanced = balanced

    def _sample(self, n: int, seed: int, test: bool) -> list[tuple[str, str]]:
        pool = _partition(test)
        rng = random.Random(seed)
        if not self.balanced:
            if n > len(pool):
                raise DataError(f"sarcasm: asked for {n} items, only {len(pool)} available")
            return rng.sample(pool, n)
        out: list[tuple[str, str]] = []
        for i, label in enumerate(("yes", "no")):
            part = [p for p in pool if p[1] == label]
            k = n // 2 + (i < n % 2)
            if k > len(part):
                raise DataError(f"sarcasm: asked for {k} '{label}' items, only {len(part)} available")
            out.extend(rng.sample(part, k))
        rng.shuffle(out)
        return out

    def train_examples(self, n: int, seed: int) -> list[Example]:
        return [Example.from_pair(QUESTION.format(headline=h), y, category="sarcasm", source="task:sarcasm")
                for h, y in self._sample(n, seed, test=False)]

    def test_items(self, n: int, seed: int) -> list[TaskItem]:
        return [TaskItem(Prompt(QUESTION.format(headline=h), category="sarcasm", source="task:sarcasm"), y)
                for h, y in self._sample(n, seed, test=True)]

    def is_correct(self, response: str, answer: str) -> bool:
        return first_yes_no(response) == answer.strip().lower()
