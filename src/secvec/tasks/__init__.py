"""Benign tasks by name: `build_task("arithmetic")`, scored with `accuracy`.

A new task is one module here that registers a class on `TASKS`, plus one import line below.
"""

from secvec.tasks.base import TASKS, Task, TaskItem, accuracy, build_task

from secvec.tasks import arithmetic, sarcasm  # noqa: F401,E402  (register)

__all__ = ["TASKS", "Task", "TaskItem", "accuracy", "build_task", "available_tasks"]


def available_tasks() -> list[str]:
    return TASKS.names()
