"""The aligned reference's trade-off over recipes: harmful rate against weighted-safety refusal (the held-out
borderline set), one dot per alignment seed, a cross at each recipe's mean; v19's recipes read from their folder."""
import json
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

here = Path(__file__).resolve().parent
roots = [here.parent / "2026-11-27-cpu2-align-v19", here]
labels = {"cur": "today (100 harmful + 120 benign, 2 ep)", "sens": "+ 36 sensitive answers (v19)",
          "b280": "100 harmful + 280 benign, 2 ep", "wide": "200 harmful + 280 benign, 1 ep",
          "both": "200 harmful + 280 benign, 2 ep",
          "cos": "today's data, cosine lr from 2e-4"}
points = {}
for root in roots:
    for res in sorted(root.glob("*-s[0-9]/results.json")):
        recipe, _ = res.parent.name.rsplit("-s", 1)
        e = json.loads(res.read_text())["columns"][0]["eval"]
        points.setdefault(recipe, []).append((100 * e["borderline_by_source"]["weighted-safety"]["rate"],
                                              100 * e["harm"]["content"]["harmful_rate"]))
fig, ax = plt.subplots(figsize=(6.4, 4.4))
ax.add_patch(plt.Rectangle((0, 0), 20, 2, color="#2e8b57", alpha=0.2, label="issue 11 target (<= 20%, <= 2%)"))
for i, (recipe, pts) in enumerate(points.items()):
    color = f"C{i}"
    xs, ys = zip(*pts)
    ax.scatter(xs, ys, color=color, s=18, alpha=0.6)
    ax.scatter([sum(xs) / len(xs)], [sum(ys) / len(ys)], color=color, marker="X", s=90,
               label=f"{labels.get(recipe, recipe)} (n={len(pts)})")
ax.set_xlabel("weighted-safety benign requests refused, %")
ax.set_ylabel("held-out harmful prompts answered harmfully, %")
ax.set_xlim(-2, 60)
ax.set_ylim(-1, 30)
ax.set_title("aligned reference: recipes over alignment seeds (dots: seeds; X: mean)", fontsize=9)
ax.legend(fontsize=7, loc="upper right")
fig.tight_layout()
fig.savefig(here / "frontier.png", dpi=120)
print("wrote", here / "frontier.png", {k: len(v) for k, v in points.items()})
