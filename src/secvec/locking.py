"""One lock for every compute-once cache (stages, converted models, generated pairs).

Why: `demo`, `compare` and `matrix` compute points in several processes at once, and two of
them may need the same cached artifact; the first computes it under the lock, the second waits
and then reads it instead of computing it again or writing over it.
"""

from __future__ import annotations

import fcntl
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator, TypeVar

T = TypeVar("T")


@contextmanager
def file_lock(path: Path) -> Iterator[None]:
    """An exclusive lock across processes on `path` (released when the holder exits or dies)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def compute_once(lock: Path, done: Callable[[], bool], read: Callable[[], T], compute: Callable[[], T]) -> T:
    """`read()` if `done()`, else `compute()` under `lock`, unless another process finished it meanwhile.

    The check before the lock keeps the usual case (already done) free of lock files; the check
    under it is the one that counts.
    """
    if done():
        return read()
    with file_lock(lock):
        if done():  # another process computed it while this one waited
            return read()
        return compute()
