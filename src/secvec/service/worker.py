"""The job worker: one thread in the service that trains one job at a time, each in its own process.

Training runs in a child process (`secvec.service.job`, under `accelerate launch` when the
operator gives several processes), so the API's event loop never waits on it. The child dies
with the service (Linux parent-death signal): after a SIGKILL, jobs still marked running go
back to the queue at the next start and resume from their last checkpoint.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
import time
from typing import Optional

from secvec.service.settings import ServiceSettings
from secvec.service.store import Store, now

log = logging.getLogger(__name__)

CANCEL_GRACE_S = 30.0  # a cancelled job stops itself at its next step; past this it is killed


def _die_with_parent() -> None:  # pragma: no cover - runs in the child between fork and exec
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except OSError:
        pass


def job_command(settings: ServiceSettings, job_id: str) -> list[str]:
    """The command that trains one job: plain Python, or `accelerate launch` with one process per GPU."""
    args = ["-m", "secvec.service.job", str(settings.home), job_id]
    if settings.num_processes > 1:
        return [sys.executable, "-m", "accelerate.commands.launch", "--num_processes",
                str(settings.num_processes), *args]
    return [sys.executable, *args]


class JobWorker:
    def __init__(self, settings: ServiceSettings, store: Store, poll_s: float = 0.5) -> None:
        self.settings, self.store, self.poll_s = settings, store, poll_s
        self._stop = threading.Event()
        self._proc: Optional[subprocess.Popen] = None
        self._thread = threading.Thread(target=self._loop, name="secvec-jobs", daemon=True)

    def start(self) -> list[str]:
        """Re-queue what a crash left running, then start taking jobs; returns the re-queued ids."""
        requeued = self.store.requeue_running()
        self._thread.start()
        return requeued

    def stop(self) -> None:
        """Stop taking jobs and stop the running one; it stays 'running' and resumes at the next start."""
        self._stop.set()
        proc = self._proc
        if proc and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
        self._thread.join(15)

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                job = self.store.next_queued()
            except Exception:  # noqa: BLE001 - a locked database must not end the worker
                log.exception("could not read the queue")
                job = None
            if job is None:
                self._stop.wait(self.poll_s)
                continue
            try:
                self._run(job)
            except Exception:  # noqa: BLE001
                log.exception("job %s: the worker failed to run it", job["id"])
                self._fail(job["id"], "the worker could not run the job (see the service log)")

    def _run(self, job: dict) -> None:
        jid = job["id"]
        out = self.settings.job_dir(jid)
        out.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, "TOKENIZERS_PARALLELISM": "false"}
        with open(out / "job.log", "ab") as logf:
            self._proc = proc = subprocess.Popen(job_command(self.settings, jid), stdout=logf,
                                                 stderr=subprocess.STDOUT, env=env, preexec_fn=_die_with_parent)
            cancelled_at = None
            while proc.poll() is None:
                if self._stop.wait(self.poll_s):
                    return  # stop() ends the process; the job resumes at the next start
                state = self.store.job(None, jid)
                if state and state["cancel_requested"]:
                    cancelled_at = cancelled_at or time.monotonic()
                    if time.monotonic() - cancelled_at > CANCEL_GRACE_S:
                        proc.kill()
                        proc.wait()
                        self.store.set_job(jid, only_if=("running",), status="cancelled", finished_at=now())
                        self.store.add_event(jid, "Fine-tuning job cancelled (its process was stopped)")
            self._proc = None
        if self._stop.is_set():
            return
        state = self.store.job(None, jid)
        if state and state["status"] == "running":  # the process died without recording an end
            self._fail(jid, f"the training process exited with code {proc.returncode} (log: {out / 'job.log'})")

    def _fail(self, jid: str, message: str) -> None:
        self.store.set_job(jid, only_if=("running",), status="failed", finished_at=now(),
                           error={"code": "training_failed", "param": None, "message": message})
        self.store.add_event(jid, f"Fine-tuning job failed: {message}", "error")
