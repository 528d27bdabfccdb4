"""Progress rendering for the CLI: library code takes callbacks, this turns them into rich bars."""

from __future__ import annotations

from contextlib import contextmanager
from typing import Callable, Iterator

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from secvec.training.sft import StepEvent

console = Console(stderr=True)


@contextmanager
def bar(description: str) -> Iterator[Callable]:
    """Yields a callback accepting either a `StepEvent` or `(done, total)`."""
    with Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TextColumn("{task.fields[info]}"), TimeElapsedColumn(), TimeRemainingColumn(),
                  console=console, transient=False) as prog:
        task = prog.add_task(description, total=None, info="")

        def update(event, total: int | None = None) -> None:
            if isinstance(event, StepEvent):
                prog.update(task, completed=event.step, total=event.total, info=f"loss {event.loss:.3f}")
            else:
                prog.update(task, completed=event, total=total)

        yield update
