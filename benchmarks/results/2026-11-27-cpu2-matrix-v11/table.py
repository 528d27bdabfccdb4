"""This session's rows (v11) beside the recipe they extend (v10i: adaptive vectors that adapt only
at >= 20 flagged examples, with the whole-set anchor), as one markdown table with each cell's
verdict: v11a (that recipe on the "Sure, here is" lead), v11b (adaptation at any flagged example
with the job's unflagged examples in the KL set, job_kl 100), v11c (job_kl 100 and target_loss
0.3; stopped after one cell), v11c2 (target_loss 0.3 alone), v11d (vectors that cover compliant
openings, the restyled recipe, with either anchor), v11e (adaptive vectors on the restyled base),
v11f (restyled vectors + safe-answers anchor on four more cells), v11g (v11e on the LoRA attacker). Each entry: 3-seed mean (min-max) of harmful
/ borderline / plain benign over-refusal (/ task accuracy). Vanilla points are the same cached
points in every run. Also draws tradeoff.png. Run from this folder with the project's Python:
PYTHONPATH=../.. ../../../.venv/bin/python table.py > table.md"""
from pathlib import Path

from merge_matrix import compact_table, merge
from secvec.report.matrix import tradeoff

runs = ["../2026-11-27-cpu2-matrix-v10/v10i", "../2026-11-27-cpu2-matrix-v10/v10f", "v11a", "v11b", "v11c", "v11c2",
        "v11d", "v11e", "v11f", "v11g"]
doc = merge([Path(r, "results.json") for r in runs if Path(r, "results.json").exists()])
print(compact_table(doc))
tradeoff(doc, Path("tradeoff.png"))
