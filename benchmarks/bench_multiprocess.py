"""Protected fine-tuning in two CPU processes (accelerate) vs one process, loss curve by loss curve.

Launching: `accelerate launch --cpu --num_processes 2` without a config file starts ONE process
(accelerate's simple launcher; `--num_processes` is only used for mpirun), which trains alone
with half the batch. Two real processes come from `accelerate launch --multi_gpu
--num_processes 2` with `ACCELERATE_USE_CPU=1` (torch's elastic launcher, gloo backend), which
is what this section runs; it counts the processes that finished to be sure.

What "the same run" means in secvec's loop: `batch_plan(n, cfg, world)` cuts one seeded
shuffle into micro-batches of `train.batch_size`, and accelerate hands consecutive
micro-batches to consecutive processes. So one process with batch size 2b and two processes
with batch size b each see exactly the same examples in every optimizer step (plan[2k] and
plan[2k+1] of size b together are plan'[k] of size 2b), provided the example count is a
multiple of 2b. What still differs is the weighting: each process averages the loss over its own
answer tokens and DDP averages the two gradients, while one process averages over all the
answer tokens of the step. Step 1 starts from the same weights, so its loss difference is
exactly that weighting effect; it is computed here in-process and compared with what the two
runs report. Both runs use fp32, so bf16 rounding does not blur the comparison.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import torch
from bench_setup import Bench

from secvec.config import TrainConfig
from secvec.data.tokenize import collate, encode_examples
from secvec.training.sft import batch_plan
from secvec.vectors import merged

MAX_LENGTH = 512  # above every example's length: nothing is cut, none dropped


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _finetune_args(bench: Bench, data: Path, out: Path, batch_size: int, steps: int, lr: float) -> list[str]:
    sets = {"train.mode": "full", "train.batch_size": batch_size, "train.max_steps": steps, "train.lr": lr,
            "train.max_length": MAX_LENGTH, "train.precision": "fp32", "train.seed": 0}
    args = ["finetune", "--model", bench.spec, "--data", str(data), "--vectors", str(bench.vectors_dir), "-o", str(out)]
    for k, v in sets.items():
        args += ["--set", f"{k}={v}"]
    return args


def _run(cmd: list[str], log: Path, threads: int, timeout: float) -> float:
    env = {**os.environ, "TOKENIZERS_PARALLELISM": "false", "HF_HUB_OFFLINE": "1", "ACCELERATE_USE_CPU": "1",
           "OMP_NUM_THREADS": str(threads)}
    start = time.perf_counter()
    with log.open("w") as f:
        proc = subprocess.run(cmd, stdout=f, stderr=subprocess.STDOUT, env=env, timeout=timeout)
    if proc.returncode != 0:
        tail = log.read_text()[-2000:]
        raise RuntimeError(f"command failed (exit {proc.returncode}): {' '.join(cmd)}\n{tail}")
    return time.perf_counter() - start


def _finished(log: Path) -> int:
    """Processes that completed the command: each prints its own closing line."""
    text = log.read_text()
    return text.count("protected fine-tune ->") + text.count("process 0 writes the outputs")


def weighting_effect(bench: Bench, examples: list, global_batch: int, processes: int) -> dict:
    """Step-1 loss as one process computes it vs as the mean of per-process losses (same weights)."""
    cfg = TrainConfig(batch_size=global_batch, max_length=MAX_LENGTH, max_steps=1, precision="fp32")
    encoded = encode_examples(bench.tokenizer, examples, MAX_LENGTH)
    batch = [encoded[i] for i in batch_plan(len(encoded), cfg)[0]]
    shard = global_batch // processes
    pad_id = bench.tokenizer.pad_token_id
    model = bench.restore()
    with merged(model, bench.vectors), torch.no_grad():
        def loss(items):
            b = {k: v.to(bench.device) for k, v in collate(items, pad_id).items()}
            return model(**b).loss.item()
        one = loss(batch)
        per_shard = [loss(batch[i:i + shard]) for i in range(0, global_batch, shard)]
    return {"one_process": one, "per_process": per_shard, "mean_of_processes": sum(per_shard) / len(per_shard),
            "predicted_difference": sum(per_shard) / len(per_shard) - one}


def multiprocess_section(bench: Bench, steps: int, global_batch: int = 8, processes: int = 2, lr: float = 5e-5,
                         tolerance: float = 0.05, timeout: float = 1800.0) -> dict:
    work = bench.workdir / "multiprocess"
    work.mkdir(parents=True, exist_ok=True)
    n = len(bench.examples) // global_batch * global_batch  # whole global batches only (see module doc)
    examples = bench.examples[:n]
    data = work / "data.jsonl"
    data.write_text("".join(json.dumps({"messages": e.messages}) + "\n" for e in examples))
    py = sys.executable
    threads = torch.get_num_threads()
    per_process = max(1, threads // processes)
    single = [py, "-m", "secvec.cli", *_finetune_args(bench, data, work / "one", global_batch, steps, lr)]
    launch = [py, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", str(processes),
              "--num_machines", "1", "--num_cpu_threads_per_process", str(per_process), "--mixed_precision", "no",
              "--dynamo_backend", "no", "--main_process_port", str(_free_port()),
              "-m", "secvec.cli", *_finetune_args(bench, data, work / "two", global_batch // processes, steps, lr)]
    wall_one = _run(single, work / "one.log", threads, timeout)
    wall_two = _run(launch, work / "two.log", per_process, timeout)
    seen = _finished(work / "two.log")
    if seen != processes:
        raise RuntimeError(f"expected {processes} processes to finish, saw {seen}: {' '.join(launch)}")
    # train_log.json, not results.json: every rank writes the latter (the CLI has no main-process
    # guard there), the training loop writes the former from the main process only.
    one = json.loads((work / "one" / "train_log.json").read_text())
    two = json.loads((work / "two" / "train_log.json").read_text())
    diffs = [abs(a - b) for a, b in zip(one["losses"], two["losses"])]
    effect = weighting_effect(bench, examples, global_batch, processes)
    observed_first = two["losses"][0] - one["losses"][0]
    return {
        "model": bench.spec, "precision": "fp32", "steps": steps, "global_batch": global_batch, "processes": processes,
        "examples": n, "lr": lr,
        "commands": {"one_process": "ACCELERATE_USE_CPU=1 python " + " ".join(single[1:]),
                     "multi_process": "ACCELERATE_USE_CPU=1 python " + " ".join(launch[1:])},
        "threads": {"one_process": threads, "per_process": per_process},
        "one_process": {"losses": one["losses"], "seconds_per_step": one["seconds_per_step"], "wall_seconds": wall_one},
        "multi_process": {"losses": two["losses"], "seconds_per_step": two["seconds_per_step"], "wall_seconds": wall_two},
        "max_abs_loss_difference": max(diffs), "loss_differences": diffs, "tolerance": tolerance,
        "within_tolerance": max(diffs) <= tolerance,
        "step1": {**effect, "observed_difference": observed_first,
                  "explained": abs(observed_first - effect["predicted_difference"]) <= 1e-3},
    }
