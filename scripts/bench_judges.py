"""Measure the judges: agreement with JailbreakBench's human labels, false harm on degenerate
text, and the content judge's throughput. Prints one JSON object.

    python scripts/bench_judges.py [--threads 2]
"""

from __future__ import annotations

import argparse
import json
import time

from secvec.judges import build_judge
from secvec.judges.validate import jbb_human_labels, validate_judge


def throughput(judge, prompts: list[str], responses: list[str], repeats: int = 5) -> float:
    """Judgements per second, model already loaded (best of `repeats` passes)."""
    judge.judge(prompts[:4], responses[:4])  # warm-up
    best = 0.0
    for _ in range(repeats):
        start = time.perf_counter()
        judge.judge(prompts, responses)
        best = max(best, len(prompts) / (time.perf_counter() - start))
    return best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    ap.add_argument("--cv-folds", type=int, default=5)
    args = ap.parse_args()
    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    out: dict = {"torch_threads": torch.get_num_threads()}
    # Throughput first: sklearn's OpenMP threads (used by the CV refits below) can linger and
    # slow torch down in the same process. The machine is shared, so take the best of 5.
    content = build_judge("content")
    prompts, responses, _ = jbb_human_labels()
    short = [" ".join(r.split()[:40]) for r in responses]  # ~ a 48-token evaluation answer
    speed = {"judgements_per_s_jbb": round(throughput(content, prompts, responses), 1),
             "judgements_per_s_40_words": round(throughput(content, prompts, short), 1)}
    for name in ("keyword", "content"):
        out[name] = validate_judge(build_judge(name), cv_folds=args.cv_folds)
    out["content"].update(speed)
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
