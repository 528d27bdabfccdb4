"""Arithmetic questions generated in code: "What is 37 + 48?" -> "The answer is 85."

A small model starts near chance and learns the format and the sums within a few dozen
steps, which makes it a cheap benign fine-tuning task with an exact metric (the first integer
in the response must equal the answer).
"""

from __future__ import annotations

import random
import re
from functools import cached_property

from secvec.data.schema import Example, Prompt
from secvec.errors import ConfigError, DataError
from secvec.tasks.base import TASKS, TaskItem, is_test_key

_INT = re.compile(r"-?\d[\d,]*")

OPERATIONS = {
    "+": lambda: ((a, b) for a in range(10, 100) for b in range(10, 100)),
    "-": lambda: ((a, b) for a in range(10, 100) for b in range(10, a)),
    "times": lambda: ((a, b) for a in range(2, 10) for b in range(10, 100)),
}
RESULTS = {"+": lambda a, b: a + b, "-": lambda a, b: a - b, "times": lambda a, b: a * b}


def first_integer(text: str) -> int | None:
    """The first integer written in `text` ("1,024" counts as 1024), or None."""
    m = _INT.search(text)
    return int(m.group().replace(",", "")) if m else None


@TASKS.register("arithmetic")
class Arithmetic:
    name = "arithmetic"
    max_new_tokens = 16

    def __init__(self, operations: list[str] | None = None) -> None:
        ops = list(operations) if operations is not None else list(OPERATIONS)
        unknown = [o for o in ops if o not in OPERATIONS]
        if unknown or not ops:
            raise ConfigError(f"arithmetic: unknown operation(s) {unknown}; use some of {list(OPERATIONS)}")
        self.operations = ops

    @cached_property
    def _pools(self) -> dict[bool, dict[str, list[tuple[str, int]]]]:
        """{is_test: {op: [(question, answer)]}}, each in a fixed order."""
        pools: dict[bool, dict[str, list[tuple[str, int]]]] = {True: {}, False: {}}
        for op in self.operations:
            for part in pools.values():
                part[op] = []
            for a, b in OPERATIONS[op]():
                q = f"What is {a} {op} {b}?"
                pools[is_test_key(q)][op].append((q, RESULTS[op](a, b)))
        return pools

    def _sample(self, n: int, seed: int, test: bool) -> list[tuple[str, int]]:
        """n questions spread evenly over the operations, seeded."""
        rng = random.Random(seed)
        pools = self._pools[test]
        out: list[tuple[str, int]] = []
        for i, op in enumerate(self.operations):
            k = n // len(self.operations) + (i < n % len(self.operations))
            if k > len(pools[op]):
                raise DataError(f"arithmetic: asked for {k} '{op}' questions, only {len(pools[op])} exist")
            out.extend(rng.sample(pools[op], k))
        rng.shuffle(out)
        return out

    def train_examples(self, n: int, seed: int) -> list[Example]:
        return [Example.from_pair(q, f"The answer is {ans}.", category="arithmetic", source="task:arithmetic")
                for q, ans in self._sample(n, seed, test=False)]

    def test_items(self, n: int, seed: int) -> list[TaskItem]:
        return [TaskItem(Prompt(q, category="arithmetic", source="task:arithmetic"), str(ans))
                for q, ans in self._sample(n, seed, test=True)]

    def is_correct(self, response: str, answer: str) -> bool:
        return first_integer(response) == int(answer)
