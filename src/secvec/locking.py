"""One lock for every compute-once cache (stages, converted models, generated pairs).

Why: `demo`, `compare` and `matrix` compute points in several processes at once, and two of
them may need the same cached artifact; the first computes it under the lock, the second waits
and then reads it instead of computing it again or writing over it.
"""

from __future__ import annotations

import fcntl
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator


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
