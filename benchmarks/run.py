"""secvec benchmark suite: one command, every figure as a ratio, results as JSON plus Markdown.

    .venv/bin/python benchmarks/run.py [--model NAME_OR_PATH] [--device cpu|cuda]
        [--precision auto|fp32|bf16] [--only SECTION,...] [--quick] [--update-readme]

Sections: finetune (protected vs vanilla, secvec vs Trainer), active (two adapters vs merged),
generation (batched vs one at a time), scaling (length, batch, model size), multiprocess
(accelerate, 2 CPU processes), precision (fp32 vs bf16). Writes
benchmarks/results/<date>-<machine>.json (after every section, so a crash keeps what was done)
and prints the Markdown tables. A section that fails is recorded with its error and the rest
still run; the exit code is then 1. See benchmarks/README.md for run times.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
import traceback
from pathlib import Path
from typing import Callable

sys.path.insert(0, str(Path(__file__).resolve().parent))
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

SECTION_NAMES = ("finetune", "active", "generation", "scaling", "multiprocess", "precision")
RESULTS_DIR = Path(__file__).resolve().parent / "results"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description="secvec benchmark suite")
    ap.add_argument("--model", default="smollm2-135m-instruct", help="bundled name, model directory, .gguf or hub id")
    ap.add_argument("--device", choices=("cpu", "cuda"), default=None, help="default: cuda if available and ACCELERATE_USE_CPU is unset, else cpu")
    ap.add_argument("--precision", choices=("auto", "fp32", "bf16"), default="auto")
    ap.add_argument("--only", default=",".join(SECTION_NAMES), help=f"comma list of: {', '.join(SECTION_NAMES)}")
    ap.add_argument("--quick", action="store_true", help="smoke run: tiny counts everywhere (seconds on the tiny model)")
    ap.add_argument("--rounds", type=int, help="interleaved rounds per training variant (default 2)")
    ap.add_argument("--warmup", type=int, help="untimed steps per training run (default 3)")
    ap.add_argument("--steps", type=int, help="timed steps per training run (default 10)")
    ap.add_argument("--batch-size", type=int, help="fine-tuning batch size (default 8)")
    ap.add_argument("--gen-prompts", type=int, help="prompts for generation (default 48)")
    ap.add_argument("--gen-tokens", type=int, help="max new tokens (default 32)")
    ap.add_argument("--gen-batch", type=int, help="batched generation batch size (default 48)")
    ap.add_argument("--gen-rounds", type=int, help="interleaved rounds per generation variant (default 1)")
    ap.add_argument("--mp-steps", type=int, help="steps of the multi-process comparison (default 6)")
    ap.add_argument("--threads", type=int, help="torch threads (default: torch's choice)")
    ap.add_argument("--output", type=Path, help="results JSON (default benchmarks/results/<date>-<machine>.json)")
    ap.add_argument("--update-readme", action="store_true", help="write the tables into benchmarks/README.md")
    args = ap.parse_args(argv)
    only = [s.strip() for s in args.only.split(",") if s.strip()]
    unknown = [s for s in only if s not in SECTION_NAMES]
    if unknown:
        ap.error(f"--only: unknown section(s) {', '.join(unknown)}; choose from {', '.join(SECTION_NAMES)}")
    args.only = only
    full = dict(rounds=2, warmup=3, steps=10, batch_size=8, gen_prompts=48, gen_tokens=32, gen_batch=48, gen_rounds=1,
                mp_steps=6)
    quick = dict(rounds=1, warmup=1, steps=2, batch_size=4, gen_prompts=8, gen_tokens=8, gen_batch=8, gen_rounds=1,
                 mp_steps=2)
    for k, v in (quick if args.quick else full).items():
        if getattr(args, k) is None:
            setattr(args, k, v)
    if args.warmup < 1:  # a run's first step includes its set-up and is never timed
        ap.error("--warmup must be at least 1")
    for k in ("rounds", "steps", "batch_size", "gen_prompts", "gen_tokens", "gen_batch", "gen_rounds", "mp_steps"):
        if getattr(args, k) < 1:
            ap.error(f"--{k.replace('_', '-')} must be at least 1")
    return args


def note(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


class Recorder:
    """Holds the results dict and saves it after every section; failures are recorded, not raised."""

    def __init__(self, results: dict, path: Path) -> None:
        self.results, self.path, self.failed = results, path, False

    def save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.write_text(json.dumps(self.results, indent=1))

    def compute(self, name: str, build: Callable[[], dict]) -> dict | None:
        """Run `build`; on an exception note it under results["errors"][name] and return None."""
        note(name)
        try:
            return build()
        except Exception:  # record and go on: one broken section must not lose the others
            self.failed = True
            self.results.setdefault("errors", {})[name] = traceback.format_exc()
            note(f"{name} FAILED:\n{self.results['errors'][name]}")
            self.save()
            return None

    def section(self, name: str, build: Callable[[], dict]) -> None:
        start = time.perf_counter()
        sec = self.compute(f"section {name}", build)
        sec = sec if sec is not None else {"error": self.results["errors"][f"section {name}"]}
        sec["seconds"] = time.perf_counter() - start
        self.results["sections"][name] = sec
        self.save()


def needs(runs: dict | None, what: str) -> dict:
    if runs is None:
        raise RuntimeError(f"the shared {what} failed; see 'errors' in this file")
    return runs


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    import torch

    from secvec.models.loading import default_device

    device = args.device or default_device().type  # ACCELERATE_USE_CPU=1 keeps it on the CPU
    if device == "cpu":
        os.environ["ACCELERATE_USE_CPU"] = "1"  # accelerate would otherwise pick a GPU if there is one
    if args.threads:
        torch.set_num_threads(args.threads)
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()

    import bench_generation as gen
    import bench_training as tr
    from bench_multiprocess import multiprocess_section
    from bench_report import render_markdown, update_readme
    from bench_scaling import scaling_section
    from bench_setup import load_bench, machine_info

    from secvec.errors import SecvecError

    started = time.perf_counter()
    workdir = Path(tempfile.mkdtemp(prefix="secvec-bench-"))
    try:
        note(f"loading {args.model} on {device}")
        try:
            bench = load_bench(args.model, device, args.precision, workdir)
        except SecvecError as e:  # a bad --model: one line, like the CLI
            print(f"benchmarks/run.py: error: {e}", file=sys.stderr)
            return 2
        info = machine_info(bench.device)
        date = time.strftime("%Y-%m-%d")
        path = args.output or RESULTS_DIR / f"{date}-{info['slug']}{'-quick' if args.quick else ''}.json"
        meta = {"date": date, "command": "benchmarks/run.py " + " ".join(sys.argv[1:] if argv is None else argv),
                "model": args.model, "n_params": bench.n_params, "precision_requested": args.precision,
                "precision": bench.precision, "quick": args.quick,
                "settings": {k: v for k, v in vars(args).items() if k != "output"}, "machine": info}
        rec = Recorder({"meta": meta, "sections": {}}, path)
        only = set(args.only)
        p = bench.precision

        # Training variants of sections finetune, active and precision run together, interleaved.
        variants = (tr.finetune_variants(p) if "finetune" in only else []) + \
                   (tr.active_variants(p) if "active" in only else []) + \
                   (tr.precision_variants() if "precision" in only else [])
        work = tr.Workload(batch_size=args.batch_size, max_length=128, warmup=args.warmup, steps=args.steps)
        train = rec.compute("training runs", lambda: tr.run_variants(bench, variants, work, args.rounds, note)) \
            if variants else None
        if "finetune" in only:
            rec.section("finetune", lambda: tr.finetune_section(needs(train, "training runs"), p, work, args.rounds))
        if "active" in only:
            rec.section("active", lambda: tr.active_section(needs(train, "training runs"), p, work, args.rounds))

        gen_variants = ([(args.gen_batch, p), (1, p)] if "generation" in only else []) + \
                       ([(args.gen_batch, "fp32"), (args.gen_batch, "bf16")] if "precision" in only else [])
        gens = rec.compute("generation runs", lambda: gen.run_generation_variants(
            bench, gen_variants, args.gen_prompts, args.gen_tokens, args.gen_rounds, note)) if gen_variants else None
        if "generation" in only:
            rec.section("generation", lambda: gen.generation_section(
                needs(gens, "generation runs"), bench, args.gen_prompts, args.gen_tokens, args.gen_batch))
        if "precision" in only:
            rec.section("precision", lambda: {
                "train": tr.precision_train_section(needs(train, "training runs")),
                "generation": gen.precision_generation_section(needs(gens, "generation runs"), args.gen_batch)})
        if "scaling" in only:
            lengths, batches = ((32, 64), (2, 4)) if args.quick else ((64, 128, 256), (4, 8, 16))
            rec.section("scaling", lambda: scaling_section(
                bench, lengths, batches, base_length=lengths[-1] if args.quick else 128,
                base_batch=batches[-1] if args.quick else 8, warmup=1 if args.quick else 2,
                steps=1 if args.quick else 5, note=note))
        if "multiprocess" in only:
            rec.section("multiprocess", lambda: multiprocess_section(bench, args.mp_steps))
        for name in SECTION_NAMES:
            rec.results["sections"].setdefault(name, {"skipped": "not selected (--only)"})
        rec.results["meta"]["wall_seconds"] = time.perf_counter() - started
        rec.results["meta"]["machine"]["load_average_at_end"] = list(os.getloadavg())
        rec.save()
        md = render_markdown(rec.results)
        print(md)
        if args.update_readme:
            update_readme(md)
        note(f"results: {path}")
        return 1 if rec.failed else 0
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
