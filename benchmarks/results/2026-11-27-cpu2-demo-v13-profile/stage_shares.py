"""Share of py-spy samples per demo stage, and how much of each is linear layers (forward) and autograd's backward.

Usage: gunzip -c pyspy-demo.raw.gz | python stage_shares.py /dev/stdin
"""
import collections
import sys

STAGES = ["Experiment.synthesize", "Experiment.align", "Experiment.train_vectors", "Provider._job", "evaluate_model"]
tot, mm, total = collections.Counter(), collections.Counter(), 0
for line in open(sys.argv[1]):
    stack, _, n = line.rstrip().rpartition(" ")
    if not stack:
        continue
    n = int(n)
    total += n
    names = [f.split(" (")[0] for f in stack.split(";")]
    stage = "evaluate_model" if "evaluate_model" in names else next((s for s in STAGES if s in names), "other")
    tot[stage] += n
    if names[-1] in ("Linear.forward", "_engine_run_backward"):
        mm[stage] += n
for s in STAGES + ["other"]:
    print(f"{s:26s} {tot[s] / total:6.1%} of samples; linear forward + autograd backward {mm[s] / max(tot[s], 1):6.1%} of it")
