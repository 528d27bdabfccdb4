"""Every anchor row measured so far on the re-aligned reference, as one markdown table: v8 (the
safe-answers anchor), v9 (the whole-alignment-set anchor on five cells, safety-mix), v10a (the
whole-set anchor on the other five), v10b (the safe-answers anchor at weight 3), v10f (per-job
adapted vectors with the whole-set anchor), v10g (its attack-budget frontier: written pairs
n=50, lr x2), v10h (it on the LoRA and Nova cells), v10i (it adapting only at >= 20 flagged
examples); then each cell's verdict. Each entry: 3-seed mean (min-max) of harmful / borderline /
plain benign over-refusal (/ task accuracy); fewer seeds are marked. Vanilla points are the
same cached points in every run. Also draws tradeoff.png (harmful rate against borderline
over-refusal, the report's trade-off plot) over all of them. Run from this folder with the
project's Python: PYTHONPATH=../.. ../../../.venv/bin/python table.py > table.md"""
from pathlib import Path

from merge_matrix import compact_table, merge
from secvec.report.matrix import tradeoff

runs = ["../2026-11-26-cpu2-matrix-v8/run", "../2026-11-26-cpu2-matrix-v9/run", "../2026-11-26-cpu2-matrix-v9/run-b",
        "../2026-11-26-cpu2-matrix-v9/run-c", "v10a", "v10b", "v10f", "v10g", "v10h", "v10i"]
doc = merge([Path(r, "results.json") for r in runs])
print(compact_table(doc))
tradeoff(doc, Path("tradeoff.png"))
