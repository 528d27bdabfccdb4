"""Peak resident memory of this process over a block of work (the demo reports it per stage).

`resource.getrusage` only knows the peak of the whole process so far, which never comes down
after a big stage; a sampling thread sees each stage's own peak. 50 ms sampling misses only
spikes shorter than that, which on a model this size do not exist.
"""

from __future__ import annotations

import threading
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Iterator

import psutil


@dataclass
class Peak:
    rss_mb: float = 0.0


@contextmanager
def peak_rss(interval: float = 0.05) -> Iterator[Peak]:
    proc = psutil.Process()
    peak = Peak(proc.memory_info().rss / 2**20)
    stop = threading.Event()

    def sample() -> None:
        while not stop.wait(interval):
            peak.rss_mb = max(peak.rss_mb, proc.memory_info().rss / 2**20)

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    try:
        yield peak
    finally:
        stop.set()
        thread.join()
        peak.rss_mb = max(peak.rss_mb, proc.memory_info().rss / 2**20)
