"""Pool workers: how many, and a worker whose parent is killed ends instead of holding its model forever."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

PARENT = """
import multiprocessing as mp, sys, time

def worker(parent):
    from secvec.recipes.parallel import exit_with_parent
    exit_with_parent(parent, every=0.1)
    time.sleep(120)  # a worker blocked on its queue

if __name__ == "__main__":
    import os
    child = mp.get_context("spawn").Process(target=worker, args=(os.getpid(),))
    child.start()
    print(child.pid, flush=True)
    time.sleep(120)
"""


def _alive(pid: int) -> bool:
    status = Path(f"/proc/{pid}/status")
    try:
        return "zombie" not in status.read_text()
    except FileNotFoundError:
        return False


def test_a_worker_exits_when_its_parent_is_killed(tmp_path):
    script = tmp_path / "parent.py"
    script.write_text(PARENT)
    parent = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True)
    try:
        worker = int(parent.stdout.readline())
        time.sleep(0.5)
        assert _alive(worker)
        os.kill(parent.pid, signal.SIGKILL)
        parent.wait()
        deadline = time.time() + 10
        while _alive(worker) and time.time() < deadline:
            time.sleep(0.1)
        assert not _alive(worker)
    finally:
        parent.kill()


def test_plan_puts_vectors_first_and_the_evaluate_only_defended_points_last():
    from secvec.recipes.experiment import AttackPlan
    from secvec.recipes.parallel import plan_tasks
    from secvec.recipes.provider import Point

    attack = AttackPlan(type="harmful", n=4)
    points = [Point("aligned"), Point("vectors on", vectors_on=True), Point("harmful FT", attack=attack),
              Point("harmful FT + vectors", "security-vectors", attack=attack),
              Point("benign FT + vectors", "security-vectors", attack=attack.model_copy(update={"type": "benign"}))]
    tasks = plan_tasks(points)
    assert [(t.point.label, t.prepare_only) for t in tasks] == [
        ("vectors on", True), ("aligned", False), ("harmful FT", False), ("harmful FT + vectors", False),
        ("benign FT + vectors", False), ("vectors on", False)]
    assert [t.point.label for t in plan_tasks(points, keep_order=True)][1:] == [p.label for p in points]


def test_workers_follow_where_models_train_not_whether_a_gpu_exists(monkeypatch):
    import torch

    from secvec.recipes.parallel import auto_workers

    monkeypatch.delenv("SECVEC_WORKERS", raising=False)
    assert os.environ.get("ACCELERATE_USE_CPU") == "1"  # tests/conftest.py: models train on the CPU
    on_cpu = auto_workers(None)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert auto_workers(None) == on_cpu  # a GPU host told to train on the CPU splits the CPU
    monkeypatch.setattr("secvec.models.loading.default_device", lambda: torch.device("cuda:0"))
    assert auto_workers(None) == 1
