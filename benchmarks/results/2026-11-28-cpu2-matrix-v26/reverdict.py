"""v26's verdicts read both ways: against the 3-alignment reference mean (the report's) and seed 0 alone.

Usage: PYTHONPATH=src python benchmarks/results/2026-11-28-cpu2-matrix-v26/reverdict.py [results.json ...]
"""
import json
import sys
from pathlib import Path

from secvec.recipes.matrix import verdict

here = Path(__file__).parent
for path in sys.argv[1:] or [here / "runB" / "results.json", here / "runA5" / "results.json"]:
    doc = json.loads(Path(path).read_text())
    one, mean = doc["aligned"], doc["baseline"]
    print(f"{path}: seed-0 reference harm {one['harmful_rate']:.3f} borderline {one['borderline_over_refusal']:.3f}; "
          f"3-seed mean harm {mean['harmful_rate']:.3f} borderline {mean['borderline_over_refusal']:.3f}")
    for cell in doc["cells"]:
        for d, stats in (cell.get("by_defense") or {}).items():
            if d != "none" and stats.get("harmful_rate"):
                c = {"by_defense": cell["by_defense"], "stats": stats}
                b = stats.get("borderline_over_refusal") or {}
                print(f"  {cell['cell']} | {d[:60]} | harm {stats['harmful_rate']['mean']:.3f} "
                      f"(max {stats['harmful_rate']['max']:.2f}) borderline {b.get('mean', float('nan')):.3f} | "
                      f"seed 0 -> {verdict(c, one)}; mean -> {verdict(c, mean)}")
