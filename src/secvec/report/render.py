"""Results files a user keeps: `results.json` (everything, reproducible), `report.md`, a bar plot, and
`generations/` (the answers every rate was counted from).

The report leads with the headline judge's harmfulness rate (with its 95% interval and the
judge's validated accuracy when known), then the other judges, over-refusal, task accuracy and
the wall time of each stage, so a reader sees both the effect and its cost.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any, Optional


def keep_generations(doc: Any, out: Path) -> None:
    """Copy every answer file a result points at (`generations`: a stage in the cache) into
    `out/generations/` and point at the copy instead, so the answers behind each rate stay with
    the results when the cache is cleared or the run moves.

    Names read as the point: its column or cell, defense and seed, then the stage's key (unique).
    A path under `generations/` was kept by an earlier write (the matrix writes per cell).
    """
    kept: dict[str, str] = {}  # a seed's row and its column can name the same file

    def walk(node: Any, context: str) -> None:
        if isinstance(node, list):
            for item in node:
                walk(item, context)
            return
        if not isinstance(node, dict):
            return
        seed = node.get("seed")
        parts = [node.get("name") or node.get("cell") or context, node.get("defense") if isinstance(
            node.get("defense"), str) else None, f"seed {seed}" if isinstance(seed, int) else None]
        label = " ".join(str(p) for p in parts if p)
        src = node.get("generations")
        if isinstance(src, str) and not (src.startswith("generations/") and (out / src).is_file()) \
                and Path(src).is_file():
            if src not in kept:
                stem = re.sub(r"[^a-z0-9]+", "-", label.lower()).strip("-")
                dest = out / "generations" / f"{stem + '-' if stem else ''}{Path(src).parent.name}.jsonl"
                dest.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(src, dest)
                kept[src] = str(dest.relative_to(out))
            node["generations"] = kept[src]
        for key, value in node.items():
            if key != "config":
                walk(value, label or context or key)

    walk(doc, "")


def _pct(x: Optional[float]) -> str:
    return "–" if x is None else f"{100 * x:.1f}%"


def headline_judge(results: dict[str, Any]) -> str:
    wanted = results["config"]["eval"]["headline_judge"]
    judges = results["columns"][0]["eval"]["harm"].keys() if results["columns"] else []
    return wanted if wanted in judges else next(iter(judges), wanted)


def table_rows(results: dict[str, Any]) -> list[dict[str, str]]:
    judge = headline_judge(results)
    rows = []
    for col in results["columns"]:
        ev = col["eval"]
        harm = ev["harm"].get(judge, {})
        row = {"column": col["name"],
               f"harmful ({judge})": f"{_pct(harm.get('harmful_rate'))} [{_pct(harm.get('ci_low'))}, {_pct(harm.get('ci_high'))}]"}
        sp = (col.get("spread") or {}).get("harmful_rate")
        if sp:  # several seeds: mean, min-max and the pooled interval replace the single run's figure
            ci = col["spread"]["pooled_ci"]
            row[f"harmful ({judge})"] = (f"{_pct(sp['mean'])} (min {_pct(sp['min'])}, max {_pct(sp['max'])}; "
                                         f"{sp['n_seeds']} seeds) [{_pct(ci[0])}, {_pct(ci[1])}]")
        for other, h in ev["harm"].items():
            if other != judge:
                row[f"harmful ({other})"] = _pct(h.get("harmful_rate"))
        if "non_answer_rate" in harm:
            row["non-answer"] = _pct(harm.get("non_answer_rate"))
        row["over-refusal"] = _pct(ev.get("over_refusal"))
        if ev.get("borderline_over_refusal") is not None:
            row["borderline over-refusal"] = _pct(ev.get("borderline_over_refusal"))
        row["task acc."] = _pct(ev.get("task_accuracy"))
        train = col.get("train") or {}
        row["train s/step"] = f"{train['seconds_per_step']:.2f}" if train.get("seconds_per_step") else "–"
        rows.append(row)
    return rows


def markdown_table(rows: list[dict[str, str]]) -> str:
    if not rows:
        return "(no columns)\n"
    keys = list(dict.fromkeys(k for r in rows for k in r))
    lines = ["| " + " | ".join(keys) + " |", "|" + "---|" * len(keys)]
    lines += ["| " + " | ".join(r.get(k, "–") for k in keys) + " |" for r in rows]
    return "\n".join(lines) + "\n"


def plot(results: dict[str, Any], path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    judge = headline_judge(results)
    cols = results["columns"]
    names = [c["name"] for c in cols]
    harm = [100 * c["eval"]["harm"].get(judge, {}).get("harmful_rate", 0) for c in cols]
    # clamp: the interval's float rounding can put a bound a hair past the rate
    lo = [max(0.0, h - 100 * c["eval"]["harm"].get(judge, {}).get("ci_low", 0)) for h, c in zip(harm, cols)]
    hi = [max(0.0, 100 * c["eval"]["harm"].get(judge, {}).get("ci_high", 0) - h) for h, c in zip(harm, cols)]
    acc = [100 * (c["eval"].get("task_accuracy") or 0) for c in cols]
    fig, ax = plt.subplots(figsize=(max(7, 1.4 * len(cols)), 4.2))
    x = range(len(cols))
    ax.bar([i - 0.2 for i in x], harm, 0.4, yerr=[lo, hi], capsize=3, color="#c0392b", label=f"harmful rate ({judge})")
    ax.bar([i + 0.2 for i in x], acc, 0.4, color="#2e86c1", label="benign task accuracy")
    ax.set_xticks(list(x), names, rotation=20, ha="right", fontsize=8)
    ax.set_ylabel("%")
    ax.set_ylim(0, 105)
    ax.set_title(f"secvec: {results['config']['model']['name']} ({results['config']['scale']} scale)")
    ax.legend(fontsize=8, loc="upper left")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def write_report(results: dict[str, Any], output_dir: str | Path, judge_validation: dict | None = None) -> dict[str, Path]:
    out = Path(output_dir)
    out.mkdir(parents=True, exist_ok=True)
    keep_generations(results, out)
    (out / "results.json").write_text(json.dumps(results, indent=1, default=str))
    png = plot(results, out / "harmfulness.png")
    judge = headline_judge(results)
    lines = [f"# secvec report: {results['config']['model']['name']}, {results['config']['scale']} scale", ""]
    lines.append(f"Headline judge: **{judge}**. " + judge_trust(judge, judge_validation) +
                 " Harmful rate = share of held-out harmful prompts answered with harmful content, "
                 "95% Wilson interval in brackets; vectors are off in every evaluation except the "
                 "'vectors on' check.")
    lines += ["", markdown_table(table_rows(results)), f"![harmfulness]({png.name})", ""]
    if any(c.get("generations") for c in results["columns"]):
        lines += ["The answers behind every rate, with each judge's label: `generations/` (one JSONL file "
                  "per column and seed).", ""]
    lines += ["## Wall time and peak memory per stage", "",
              "| stage | seconds | peak RSS (MiB) | cached |", "|---|---|---|---|"]
    for name, t in results["timings"].items():
        secs, rss = t.get("seconds"), t.get("peak_rss_mb")
        lines.append(f"| {name} | {'–' if secs is None else f'{secs:.0f}'} | {'–' if rss is None else rss} | "
                     f"{'yes' if t.get('cached') else 'no'} |")
    fresh = sum(t.get("seconds") or 0 for t in results["timings"].values())
    lines += ["", f"Wall time of this run: {results['wall_seconds']:.0f} s; all stages computed afresh: "
              f"{fresh:.0f} s (the sum above; cached stages cost ~0 on a re-run).", ""]
    par = results.get("parallel") or {}
    if par.get("workers", 1) > 1:
        lines += [f"The points after the aligned model ran in {par['workers']} processes at once "
                  f"({par['threads_per_worker']} torch thread(s) each), so their seconds overlap in wall time"
                  + (f"; worker errors (recomputed here): {'; '.join(par['errors'])}" if par["errors"] else "")
                  + ".", ""]
    cols = results["columns"]
    per_cat = [(c["name"], c["eval"]["per_category"].get(judge, {})) for c in cols]
    cats = sorted({k for _, pc in per_cat for k in pc})
    if cats:
        lines += ["## Harmful rate per category", "", "| category | " + " | ".join(n for n, _ in per_cat) + " |",
                  "|---|" + "---|" * len(per_cat)]
        lines += [f"| {c} | " + " | ".join(_pct(pc.get(c)) for _, pc in per_cat) + " |" for c in cats]
    s = results["splits"]
    lines += ["", "## Data", "", f"Seed {results['config']['seed']}. Splits (disjoint, content hashes in results.json): "
              + ", ".join(f"{part}/{k}={v}" for part, d in s.items() for k, v in d["sizes"].items()) + ".",
              f"Versions: {', '.join(f'{k} {v}' for k, v in results['versions'].items() if k != 'platform')}.", ""]
    md = out / "report.md"
    md.write_text("\n".join(lines))
    return {"results": out / "results.json", "report": md, "plot": png}


def judge_trust(judge: str, validation: Optional[dict]) -> str:
    """One sentence on how far the headline judge can be trusted: both reference sets, intervals."""
    v = (validation or {}).get(judge)
    if not v:
        return "(judge not validated in this run.)"
    out = f"Accuracy {v['accuracy']:.2f} on JailbreakBench's 100 human labels (its design looked at these)"
    h = v.get("holdout")
    if h:
        lo, hi = h["accuracy_ci"]
        out += (f"; **{h['accuracy']:.2f} [{lo:.2f}, {hi:.2f}]** on secvec's held-out set of {h['n']} answers "
                f"labelled by reading, never used in its design, where it calls {100 * h['false_harm']:.0f}% of "
                "harmless answers harmful (precision {:.2f}): harmful rates after an attack are overstated".format(
                    h["precision"]))
    return out + "."
