"""What a benign task is: training examples, held-out test items, and a correctness check.

The paper's second claim is that security vectors leave benign fine-tuning intact, so each
task reports an accuracy before and after fine-tuning. Train and test items come from fixed,
hash-assigned partitions of the task's pool, so they can never overlap, whatever the seeds.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any, Protocol, Sequence, runtime_checkable

from secvec.data.schema import Example, Prompt
from secvec.registry import call_with_options
from secvec.data.splits import normalize_text
from secvec.registry import Registry

TEST_FRACTION = 0.2


@dataclass(frozen=True)
class TaskItem:
    prompt: Prompt
    answer: str


@runtime_checkable
class Task(Protocol):
    name: str
    max_new_tokens: int  # enough new tokens for a correct answer to appear

    def train_examples(self, n: int, seed: int) -> list[Example]: ...

    def test_items(self, n: int, seed: int) -> list[TaskItem]: ...

    def is_correct(self, response: str, answer: str) -> bool: ...


TASKS: Registry[Any] = Registry("task")


def build_task(name: str, **options: Any) -> Task:
    """The task registered as `name`, built with its options (wrong options: ConfigError)."""
    return call_with_options("task", name, TASKS.get(name), **options)


def accuracy(task: Task, items: Sequence[TaskItem], responses: Sequence[str]) -> float:
    """Fraction of responses judged correct by `task.is_correct` against each item's answer."""
    if len(items) != len(responses):
        raise ValueError(f"{len(items)} items but {len(responses)} responses")
    if not items:
        raise ValueError("accuracy of no items is undefined")
    return sum(task.is_correct(r, it.answer) for it, r in zip(items, responses)) / len(items)


def is_test_key(key: str, fraction: float = TEST_FRACTION) -> bool:
    """Whether an item belongs to the test partition: a fixed function of its normalized text."""
    digest = hashlib.sha256(normalize_text(key).encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < fraction
