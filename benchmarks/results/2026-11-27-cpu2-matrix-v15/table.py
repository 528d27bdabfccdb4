"""v14-v16 beside every row measured before on this reference, as one markdown table with each
cell's verdict: v8-v13 (see ../2026-11-27-cpu2-matrix-v13/table.py), then v14a (delta-vectors
against the 1,000-sample attack, seeds 1-2; v13j ran seed 0), v15 (routed-vectors, 3 seeds),
v16a (the paper's vectors + the recovery anchor, 3 seeds), v16b and v16c (the recovery anchor at
other weights, and with the delta, seed 0). Each entry: mean (min-max) over the seeds run of
harmful / borderline / plain benign over-refusal (/ task accuracy). Vanilla points are the same
cached points in every run. Also draws tradeoff.png. Run from this folder with the project's Python:
PYTHONPATH=../.. ../../../.venv/bin/python table.py > table.md"""
from pathlib import Path

from merge_matrix import compact_table, merge
from secvec.report.matrix import tradeoff

old = ["../2026-11-26-cpu2-matrix-v8/run", "../2026-11-26-cpu2-matrix-v9/run", "../2026-11-26-cpu2-matrix-v9/run-b",
       "../2026-11-26-cpu2-matrix-v9/run-c", "../2026-11-27-cpu2-matrix-v10/v10a", "../2026-11-27-cpu2-matrix-v10/v10f",
       "../2026-11-27-cpu2-matrix-v10/v10i"] + [f"../2026-11-27-cpu2-matrix-v13/v13{x}" for x in "abcdefghij"]
new = ["v14a", "v15a", "v15b", "v16a", "v16b", "v16c", "v16d"]
doc = merge([Path(r, "results.json") for r in old + new if Path(r, "results.json").exists()])
print(compact_table(doc))
tradeoff(doc, Path("tradeoff.png"))
