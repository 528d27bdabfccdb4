"""The v8 (anchor on safe answers) and v9 (anchor on the whole alignment set, safety-mix; run-b:
the same anchor on the poison and drift cells; run-c: on the LoRA and Nova cells) rows as
one markdown table: 3-seed mean (min-max) of harmful / borderline / plain benign over-refusal
(/ task accuracy). Run from this folder: python table.py > table.md"""
import json
from pathlib import Path


def points(path):
    p = Path(path)
    return json.loads(p.read_text())["points"] if p.exists() else []


seen, pts = set(), []
v9 = "../2026-11-26-cpu2-matrix-v9/"
for p in points("run/results.json") + points(v9 + "run/results.json") + points(v9 + "run-b/results.json") + points(v9 + "run-c/results.json"):
    key = (p["cell"], p["defense"], p["seed"])
    if key not in seen:  # vanilla is in both runs (the same cached points)
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
        s += f" [{len(ps)} seeds]" if len(ps) < 3 else ""
        row.append(s)
    print(f"| {c} | " + " | ".join(row) + " |")
