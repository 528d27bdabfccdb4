"""Issue 13's service targets on the bundled model, measured against `secvec finetune`.

    .venv/bin/python benchmarks/service_bench.py --out benchmarks/results/<run>/service.json

1. Wall time: the same data and training settings through `secvec finetune --vectors` (one
   process: load, train, export) and through a service job (upload -> succeeded), with the
   job's own split into screening, training + export and the safety gate.
2. While a job trains: 100 concurrent status polls, p50/p95 latency.
3. SIGKILL the service mid-job, restart it: time to finish, and the final weights' max
   difference from the same job run without interruption.
The model and vectors default to the last `secvec demo`'s.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import openai
import yaml
from safetensors.torch import load_file

from secvec.recipes.experiment import cpu_model

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "service"))
from test_service import free_port, write_jsonl  # noqa: E402  (one way to start and feed the service)


def examples(n: int) -> list[dict]:
    return [{"messages": [{"role": "user", "content": f"What is {i} plus {i + 3}?"},
                          {"role": "assistant", "content": f"{i} plus {i + 3} is {2 * i + 3}."}]} for i in range(n)]


def start(home: Path, cfg: Path) -> tuple[subprocess.Popen, str]:
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "secvec.cli", "service", "-c", str(cfg), "--home", str(home),
                             "--port", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    while True:
        try:
            if httpx.get(f"{url}/v1/models", timeout=2).status_code in (200, 401):
                return proc, url
        except httpx.TransportError:
            time.sleep(0.3)


def wait(c: openai.OpenAI, jid: str) -> tuple[object, float]:
    while True:
        job = c.fine_tuning.jobs.retrieve(jid)
        if job.status in ("succeeded", "failed", "cancelled"):
            return job, time.perf_counter()
        time.sleep(0.2)


async def polls(url: str, key: str, jid: str, n: int = 100) -> list[float]:
    async with httpx.AsyncClient(base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=60) as c:
        async def one() -> float:
            t = time.perf_counter()
            r = await c.get(f"/v1/fine_tuning/jobs/{jid}")
            r.raise_for_status()
            return time.perf_counter() - t
        return await asyncio.gather(*(one() for _ in range(n)))


def main() -> None:
    from secvec.models.loading import cache_root
    from secvec.service.store import Store

    ap = argparse.ArgumentParser()
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--examples", type=int, default=96)
    args = ap.parse_args()
    demo = json.loads((cache_root() / "latest-demo.json").read_text())
    tmp = Path(tempfile.mkdtemp(prefix="secvec-service-bench-"))
    data = write_jsonl(tmp / "train.jsonl", examples(args.examples))
    train = {"lr": 1e-4, "epochs": 1, "batch_size": 8, "max_length": 128, "checkpoint_every": 4, "seed": 5,
             "precision": "auto"}
    out: dict = {"examples": args.examples, "train": train, "model": demo["aligned_model"], "vectors": demo["vectors"]}

    # 1a. secvec finetune, same data and settings
    sets = [f"train.{k}={v}" for k, v in train.items()]
    t = time.perf_counter()
    subprocess.run([sys.executable, "-m", "secvec.cli", "finetune", "--model", demo["aligned_model"], "--data",
                    str(data), "--vectors", demo["vectors"], "-o", str(tmp / "ft"), *sum((["--set", s] for s in sets), [])],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    out["finetune_wall_s"] = time.perf_counter() - t

    # 1b + 2. the service job, polled 100 times at once while it trains
    cfg = tmp / "service.yaml"
    cfg.write_text(yaml.safe_dump({"model": demo["aligned_model"], "vectors": demo["vectors"], "lr": train["lr"],
                                   "max_length": train["max_length"], "checkpoint_every": train["checkpoint_every"],
                                   "precision": "auto"}))
    home = tmp / "home"
    key = Store.at(home).create_key("bench")
    proc, url = start(home, cfg)
    c = openai.OpenAI(base_url=f"{url}/v1", api_key=key, max_retries=0, timeout=120)
    hp = {"n_epochs": 1, "batch_size": 8, "learning_rate_multiplier": 1}
    fid = c.files.create(file=data.open("rb"), purpose="fine-tune").id
    t = time.perf_counter()
    ref = c.fine_tuning.jobs.create(model="secvec-aligned", training_file=fid, seed=5, hyperparameters=hp)
    while not any(e.message.startswith("Step ") for e in c.fine_tuning.jobs.list_events(ref.id, limit=50).data):
        time.sleep(0.1)
    lat = sorted(asyncio.run(polls(url, key, ref.id)))
    done, end = wait(c, ref.id)
    assert done.status == "succeeded", done.error
    out["job_wall_s"] = end - t
    out["job_timings"] = done.secvec.get("timings") if isinstance(done.secvec, dict) else None
    out["job_over_finetune"] = out["job_wall_s"] / out["finetune_wall_s"]
    out["polls"] = {"n": len(lat), "p50_ms": 1000 * statistics.median(lat), "p95_ms": 1000 * lat[int(0.95 * len(lat)) - 1],
                    "max_ms": 1000 * lat[-1]}
    out["safety_gate"] = json.loads(c.files.content(done.result_files[0]).content)

    # 3. SIGKILL mid-job, restart, finish; compare with the uninterrupted job
    killed = c.fine_tuning.jobs.create(model="secvec-aligned", training_file=fid, seed=5, hyperparameters=hp)
    ckpts = home / "jobs" / killed.id / "train" / "checkpoints"
    while not list(ckpts.glob("step-*/secvec_state.json")):
        time.sleep(0.1)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    t = time.perf_counter()
    proc, url = start(home, cfg)
    c = openai.OpenAI(base_url=f"{url}/v1", api_key=key, max_retries=0, timeout=120)
    done, end = wait(c, killed.id)
    assert done.status == "succeeded", done.error
    out["resume_to_succeeded_s"] = end - t
    a = load_file(str(home / "jobs" / ref.id / "model" / "model.safetensors"))
    b = load_file(str(home / "jobs" / killed.id / "model" / "model.safetensors"))
    out["resumed_max_abs_diff"] = max(float((a[k] - b[k]).abs().max()) for k in a)
    proc.send_signal(signal.SIGTERM)
    proc.wait()
    out["cpu"] = cpu_model()
    out["threads"] = os.environ.get("OMP_NUM_THREADS", "default")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=1))
    print(json.dumps({k: v for k, v in out.items() if k != "safety_gate"}, indent=1))


if __name__ == "__main__":
    main()
