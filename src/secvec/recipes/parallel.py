"""Run a batch of provider points in several processes at once, then read them from the cache.

Why processes: on a CPU, one torch process does not use its cores well at this model size
(a fine-tuning step of SmolLM2-135M on 2 cores was only ~1.4x faster with 2 threads than
with 1, measured), so two one-thread processes finish a batch of independent points ~1.3-1.5x
sooner. Every point is one cached stage, so the workers only fill the cache: the caller then
runs its usual serial loop, which reads each result back (or, for a point a worker could not
run, computes it and reports its error the usual way). Stages are locked while computed, so two
processes that need the same vectors train them once.

Order matters with two workers: the defenses' own stages (the vectors) go first, so the
points that need them rarely wait; vanilla points follow, then the defended ones, those that
fine-tune before those that only evaluate (the short ones fill the end: in the demo the worker
that trained the vectors otherwise evaluated "vectors on" first and finished the batch ~10 s
after the other, estimated from the stage times of benchmarks/results/2026-11-27-cpu2-demo-v7).
"""

from __future__ import annotations

import logging
import os
from contextlib import nullcontext
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from typing import Any, Callable, Optional, Sequence

from secvec.recipes.experiment import Experiment, ExperimentConfig
from secvec.recipes.provider import Point, Provider

log = logging.getLogger(__name__)

MIN_GIB_PER_WORKER = 7  # peak RSS of one full fine-tuning point of the bundled model was 6.2 GiB


def auto_workers(requested: Optional[int]) -> int:
    """`requested`, else `$SECVEC_WORKERS`, else 2 where models train on the CPU (no GPU, or
    `ACCELERATE_USE_CPU`) with >= 2 cores and memory for two, else 1."""
    if requested:
        return requested
    if os.environ.get("SECVEC_WORKERS", "").isdigit() and int(os.environ["SECVEC_WORKERS"]) >= 1:
        return int(os.environ["SECVEC_WORKERS"])
    from secvec.models.loading import default_device

    if default_device().type != "cpu":
        return 1
    cpus = len(os.sched_getaffinity(0))
    gib = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return 2 if cpus >= 2 and gib >= 2 * MIN_GIB_PER_WORKER else 1


@dataclass(frozen=True)
class Task:
    point: Point
    prepare_only: bool = False  # only the defense's stages (its vectors), not the point itself


_provider: Optional[Provider] = None


def exit_with_parent(parent: int, every: float = 2.0) -> None:
    """End this process when `parent` is gone (a daemon thread that polls).

    A pool worker whose parent was killed (SIGTERM or SIGKILL to the parent alone, not Ctrl-C to
    the whole group) would otherwise wait on its task queue forever, holding a loaded model:
    two such orphans held 11 GiB here and got the next run's workers killed for memory.
    """
    import threading
    import time

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(every)
        os._exit(1)

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()


def _init(cfg: ExperimentConfig, threads: int, parent: int) -> None:
    import warnings

    exit_with_parent(parent)

    import torch
    from transformers.utils import logging as hf_logging

    torch.set_num_threads(threads)
    # the parent shows one bar for the batch; the workers' weight-loading bars and warnings
    # would interleave with it
    hf_logging.disable_progress_bar()
    hf_logging.set_verbosity_error()
    warnings.filterwarnings("ignore", category=FutureWarning)
    global _provider
    exp = Experiment(cfg)
    synth = exp.synthesize()
    _provider = Provider(exp, synth, exp.align(synth))


def _work(task: Task) -> tuple[list[str], Optional[str]]:
    """Compute the task's stages; returns the keys it computed and its error, if any (never raises:
    the caller's serial pass recomputes a failed point and reports it there)."""
    assert _provider is not None
    exp = _provider.exp  # its timings are cleared after each task: what is in them is this task's
    try:
        if task.prepare_only:
            _provider.prepare(task.point)
        else:
            _provider.run(task.point)
        error = None
    except Exception as e:  # noqa: BLE001 - reported by the serial pass
        error = f"{type(e).__name__}: {e}"
    fresh = [t["key"] for t in exp.timings.values() if not t["cached"]]
    exp.timings.clear()
    return fresh, error


def _prepare_key(point: Point) -> Optional[tuple]:
    """Points with the same key need the same defense stages; None: they need none."""
    if point.defense == "none" and not point.vectors_on:
        return None
    defense = point.defense if point.defense != "none" else "security-vectors"
    options = point.options if point.defense != "none" else {}
    return (defense, repr(sorted(options.items())), repr(point.defense_sources), point.defense_limit, point.seed)


def cached(provider: Provider, point: Point, prepare_only: bool = False) -> bool:
    """Whether the point is in the cache; True for a point that cannot run (its error is reported by the serial pass)."""
    try:
        return provider.cached(point, prepare_only)
    except Exception:  # noqa: BLE001 - a point that cannot run fails in the serial pass, with its message
        return True


def plan_tasks(points: Sequence[Point], keep_order: bool = False) -> list[Task]:
    """Defense stages first (one task per distinct need), then vanilla points, then defended ones
    (those with an attack before those without).

    `keep_order`: after the defense stages, the points in the given order (a matrix passes them
    cell by cell, so the first cells finish first and their report is written early).
    """
    prepares: dict[tuple, Task] = {}
    for p in points:
        key = _prepare_key(p)
        if key is not None and key not in prepares:
            prep = p if p.defense != "none" else Point(p.label, "security-vectors", seed=p.seed,
                                                       defense_sources=p.defense_sources,
                                                       defense_limit=p.defense_limit)
            prepares[key] = Task(prep, prepare_only=True)
    if keep_order:
        return list(prepares.values()) + [Task(p) for p in points]
    vanilla = [Task(p) for p in points if _prepare_key(p) is None]
    defended = sorted((Task(p) for p in points if _prepare_key(p) is not None), key=lambda t: t.point.attack is None)
    return list(prepares.values()) + vanilla + defended


def prefetch(provider: Provider, points: Sequence[Point], workers: int, progress: Any = None,
             keep_order: bool = False, on_done: Optional[Callable[[], None]] = None) -> dict[str, Any]:
    """Fill the cache for `points` with `workers` processes; a no-op for one worker or when all are cached.

    `keep_order`: see `plan_tasks`. `on_done()` is called in this process after each finished
    task (a matrix writes the cells that are complete). Returns what happened (workers, tasks,
    errors) for the results document.
    """
    if workers <= 1:
        return {"workers": 1, "tasks": 0}
    exp = provider.exp
    missing = [p for p in points if not cached(provider, p)]
    if len(missing) < 2:
        return {"workers": 1, "tasks": 0}
    tasks = [t for t in plan_tasks(missing, keep_order) if not (t.prepare_only and cached(provider, t.point, True))]
    threads = max(1, len(os.sched_getaffinity(0)) // workers)
    log.info("computing %d points in %d processes (%d torch threads each)", len(missing), workers, threads)
    errors: list[str] = []
    import multiprocessing as mp

    label = f"{len(missing)} points in {workers} processes"
    with (progress(label) if progress else nullcontext()) as step:
        try:
            with ProcessPoolExecutor(workers, mp.get_context("spawn"), initializer=_init,
                                     initargs=(exp.cfg, threads, os.getpid())) as pool:
                futures = [pool.submit(_work, t) for t in tasks]
                for done, fut in enumerate(as_completed(futures), 1):
                    fresh, error = fut.result()
                    exp.fresh.update(fresh)
                    if error:
                        errors.append(error)
                    if step:
                        step(done, len(futures))
                    if on_done:
                        on_done()
        except BrokenProcessPool as e:  # a worker died (out of memory?): the serial pass does the rest
            log.warning("parallel workers stopped (%s); continuing in this process", e)
            errors.append(f"BrokenProcessPool: {e}")
    return {"workers": workers, "threads_per_worker": threads, "tasks": len(tasks), "errors": errors}
