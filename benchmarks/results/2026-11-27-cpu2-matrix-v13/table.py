"""The alignment-delta vectors (v13) beside every row measured before on this reference, as one
markdown table with each cell's verdict: v8-v10 (the paper's vectors, both anchors, adaptive
vectors; see ../2026-11-27-cpu2-matrix-v10/table.py), then v13a (delta-vectors rank 32, alone and
with the whole-set anchor, seed 0, nine strong cells), v13b and v13e (delta-vectors alone, 3 seeds,
the nine strong cells), v13c (delta-vectors + the whole-set anchor on the "Sure, here is" lead,
3 seeds), v13d (adaptive vectors that start from the delta, seed 0), v13f (delta-vectors against
lr x10, 3 epochs and 20% poison), v13g (the paper's vectors on lr x10 and 3 epochs), v13h and v13i (latent harm:
10 vanilla harmful steps after a defended benign job and on the aligned model; two defended jobs
in a row), v13j (generator pairs n=1000, seed 0). Each entry: mean (min-max) over the seeds run of harmful /
borderline / plain benign over-refusal (/ task accuracy). Vanilla points are the same cached points
in every run. Also draws tradeoff.png. Run from this folder with the project's Python:
PYTHONPATH=../.. ../../../.venv/bin/python table.py > table.md"""
from pathlib import Path

from merge_matrix import compact_table, merge
from secvec.report.matrix import tradeoff

runs = ["../2026-11-26-cpu2-matrix-v8/run", "../2026-11-26-cpu2-matrix-v9/run", "../2026-11-26-cpu2-matrix-v9/run-b",
        "../2026-11-26-cpu2-matrix-v9/run-c", "../2026-11-27-cpu2-matrix-v10/v10a", "../2026-11-27-cpu2-matrix-v10/v10f",
        "../2026-11-27-cpu2-matrix-v10/v10i", "v13a", "v13b", "v13c", "v13d", "v13e", "v13f", "v13g", "v13h", "v13i", "v13j"]
doc = merge([Path(r, "results.json") for r in runs if Path(r, "results.json").exists()])
print(compact_table(doc))
tradeoff(doc, Path("tradeoff.png"))
