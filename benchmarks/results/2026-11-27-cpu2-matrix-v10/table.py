"""Every anchor row measured so far on the re-aligned reference, as one markdown table: v8 (the
safe-answers anchor), v9 (the whole-alignment-set anchor on five cells, safety-mix), v10a (the
whole-set anchor on the other five), v10b (the safe-answers anchor at weight 3), v10f (per-job
adapted vectors with the whole-set anchor), v10g (its attack-budget frontier: written pairs
n=50, lr x2), v10h (it on the LoRA and Nova cells), v10i (it adapting only at >= 20 flagged examples); then each cell's verdict. Each entry: 3-seed mean (min-max) of harmful / borderline / plain benign over-refusal (/ task accuracy); fewer seeds are marked.
Vanilla points are the same cached points in every run. Also draws tradeoff.png (harmful rate
against borderline over-refusal, the report's trade-off plot) over all of them. Run from this
folder with the project's Python: ../../../.venv/bin/python table.py > table.md"""
import json
from pathlib import Path


def points(path):
    p = Path(path)
    return json.loads(p.read_text())["points"] if p.exists() else []


runs = ["../2026-11-26-cpu2-matrix-v8/run", "../2026-11-26-cpu2-matrix-v9/run", "../2026-11-26-cpu2-matrix-v9/run-b",
        "../2026-11-26-cpu2-matrix-v9/run-c", "v10a", "v10b", "v10f", "v10g", "v10h", "v10i"]
seen, pts = set(), []
for run in runs:
    for p in points(f"{run}/results.json"):
        key = (p["cell"], p["defense"], p["seed"])
        if key not in seen:
            seen.add(key)
            pts.append(p)
cells = list(dict.fromkeys(p["cell"] for p in pts))
defs = list(dict.fromkeys(p["defense"] for p in pts))


def fmt(ps, key):
    vals = [p[key] for p in ps if p.get(key) is not None]
    if not vals:
        return None
    m = sum(vals) / len(vals)
    return f"{m * 100:.0f}%" if len(vals) == 1 else f"{m * 100:.0f}% ({min(vals) * 100:.0f}–{max(vals) * 100:.0f})"


print("| attack cell | " + " | ".join(defs) + " |")
print("|---" * (len(defs) + 1) + "|")
for c in cells:
    row = []
    for d in defs:
        ps = [p for p in pts if p["cell"] == c and p["defense"] == d]
        if not ps:
            row.append("–")
            continue
        s = f"{fmt(ps, 'harmful_rate')} / {fmt(ps, 'borderline_over_refusal')} / {fmt(ps, 'over_refusal')}"
        t = fmt(ps, "task_accuracy")
        s += f" / task {t}" if t else ""
        s += f" [{len(ps)} seed{'s' if len(ps) > 1 else ''}]" if len(ps) < 3 else ""
        row.append(s)
    print(f"| {c} | " + " | ".join(row) + " |")


from secvec.recipes.matrix import MatrixConfig, default_cells, summarize_cells  # noqa: E402
from secvec.report.matrix import tradeoff  # noqa: E402

aligned = json.loads(Path(runs[0], "results.json").read_text())["aligned"]
frontier = json.loads(Path("v10g/results.json").read_text())["config"]["cells"]  # the budget cells
cfg = MatrixConfig(cells=[c.model_dump() for c in default_cells()] + frontier)
tradeoff({"cells": summarize_cells(pts, cfg, aligned), "aligned": aligned, "judge": "content"},
         Path("tradeoff.png"))

# issue 11's verdict for every defended cell (secvec.recipes.matrix.verdict), below the table
print()
for c in summarize_cells(pts, cfg, aligned):
    for d, v in c["verdicts"].items():
        print(f"- {c['cell']} | {d}: {v}")
