"""The immunization report: `report.md` with one verdict per condition, two plots, `results.json`.

The summary table comes first because it is the answer; each condition's section then shows
the numbers behind its verdict, so a reader can disagree with a threshold without re-running.
"""

from __future__ import annotations

import json
from itertools import groupby
from pathlib import Path
from typing import Any, Optional

from secvec.eval.immunization import pct
from secvec.report.render import judge_trust, keep_generations, markdown_table

MARK = {"pass": "pass", "weak": "weak (partial)", "fail": "FAIL", "inconclusive": "inconclusive"}  # why: the measured column


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_resistance(results: dict[str, Any], path: Path) -> Path:
    """Harmful rate against the number of harmful samples, one line per (lr, epochs) and arm."""
    plt = _pyplot()
    res, ref = results["resistance"], results["reference"]
    fig, ax = plt.subplots(figsize=(6.5, 4))
    rows = list(enumerate(res["budgets"]))
    for (lr, ep), group in groupby(rows, key=lambda r: (r[1]["lr"], r[1]["epochs"])):
        idx = [i for i, _ in group]
        ns = [res["budgets"][i]["n"] for i in idx]
        for arm, style in (("vanilla", "--"), ("defended", "-")):
            ax.plot(ns, [100 * res["rates"][arm][i] for i in idx], style, marker="o",
                    label=f"{arm}, lr={lr:g}, {ep:g} ep")
    ax.axhline(100 * (ref["harmful_rate"] + ref["margin"]), color="grey", linestyle=":",
               label=f"aligned + {100 * ref['margin']:.0f} pts")
    return _save(fig, ax, path, "harmful samples in the attack", f"harmful rate (%, {results['headline_judge']})",
                 f"resistance: {results['defense']['name']} vs vanilla")


def plot_trainability(results: dict[str, Any], path: Path) -> Path:
    plt = _pyplot()
    tr = results["trainability"]
    fig, ax = plt.subplots(figsize=(6.5, 4))
    for arm, style in (("vanilla", "--"), ("defended", "-")):
        ax.plot(tr["steps"], [100 * (a or 0) for a in tr["accuracy"][arm]], style, marker="o", label=arm)
    return _save(fig, ax, path, "benign fine-tuning steps", "task accuracy (%)",
                 f"trainability: {results['defense']['name']} vs vanilla")


def _save(fig, ax, path: Path, xlabel: str, ylabel: str, title: str) -> Path:
    """The percent axes both curves share, then the PNG."""
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_ylim(0, 105)
    ax.set_title(title)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    _pyplot().close(fig)
    return path


def summary_rows(results: dict[str, Any]) -> list[dict[str, str]]:
    return [{"condition": v["condition"], "verdict": MARK[v["status"]], "measured": v["measured"],
             "threshold": v["criterion"]} for v in results["verdicts"]]


def _sections(results: dict[str, Any]) -> list[str]:
    verdicts = {v["condition"]: v for v in results["verdicts"]}
    res, gen, tr = results["resistance"], results["generalization"], results["trainability"]
    lines = ["## Resistance", "", f"Harmful rate after the harmful attack, by attacker budget. "
             f"Verdict: **{MARK[verdicts['resistance']['status']]}** "
             f"({verdicts['resistance']['details']['strength']} resistance).", ""]
    counts = res.get("counts") or {}
    lines.append(markdown_table([{"budget": f"n={b['n']}, lr={b['lr']:g}, {b['epochs']:g} ep",
                                  "vanilla": pct(res["rates"]["vanilla"][i]),
                                  "defended": pct(res["rates"]["defended"][i]),
                                  "defended 95% CI": _ci((counts.get("defended") or [None] * (i + 1))[i])}
                                 for i, b in enumerate(res["budgets"])]))
    lines += ["![resistance](resistance.png)", "", "## Stability", "",
              "The served model before any fine-tuning, defended vs aligned. "
              f"Verdict: **{MARK[verdicts['stability']['status']]}**.", ""]
    lines.append(markdown_table([{"metric": name, "aligned": _num(c["aligned"], name),
                                  "defended": _num(c["defended"], name), "change": _num(c["change"], name),
                                  "change 95% CI": _ci(c.get("ci")), "limit": _num(c["limit"], name),
                                  "ok": {"below": "yes", "above": "no"}.get(c.get("side"), "can't tell")}
                                 for name, c in verdicts["stability"]["details"]["checks"].items()]))
    lines += ["## Generalization", "", f"Attack and evaluation on {', '.join(gen['sources']['attack'])}; "
              f"the defense's harmful data from the same domain or another ({gen['defense_limit']} examples each). "
              f"Verdict: **{MARK[verdicts['generalization']['status']]}**.", ""]
    held = verdicts["generalization"]["details"]["held"]
    lines.append(markdown_table([{"domain": name, "defense data": ", ".join(gen["sources"][name]),
                                  "aligned": pct(r["aligned"]), "vanilla": pct(r["vanilla"]),
                                  "defended": pct(r["defended"]),
                                  "defended 95% CI": _ci((gen.get("counts") or {}).get(name, {}).get("defended")),
                                  "ok": "yes" if held[name] else "no"}
                                 for name, r in gen["domains"].items()]))
    lines += ["## Trainability", "", "Benign task accuracy after fine-tuning for the given number of steps. "
              f"Verdict: **{MARK[verdicts['trainability']['status']]}**.", ""]
    lines.append(markdown_table([{"steps": str(s), "vanilla": pct(tr["accuracy"]["vanilla"][i]),
                                  "defended": pct(tr["accuracy"]["defended"][i])} for i, s in enumerate(tr["steps"])]))
    lines += ["![trainability](trainability.png)", ""]
    return lines


def _defense(spec: dict[str, Any]) -> str:
    opts = ", ".join(f"{k}={v}" for k, v in spec["options"].items())
    return spec["name"] + (f" ({opts})" if opts else "")


def _ci(x: Any) -> str:
    """A Rate's dict ({"ci": [low, high]}) or a bare [low, high] as "[a, b]" in points."""
    ci = x.get("ci") if isinstance(x, dict) else x
    return "–" if not ci else f"[{100 * ci[0]:.1f}, {100 * ci[1]:.1f}]"


def _seconds(x: Any) -> str:
    return "–" if x is None else f"{x:.0f}"


def _num(x: Any, metric: str) -> str:
    if x is None:
        return "–"
    return f"{x:.3f}" if "perplexity" in metric else pct(x)


def write_immunize_report(results: dict[str, Any], output_dir: str | Path,
                          judge_validation: Optional[dict] = None) -> dict[str, Path]:
    out = Path(output_dir)
    out.mkdir(parents=True, exist_ok=True)
    keep_generations(results, out)
    (out / "results.json").write_text(json.dumps(results, indent=1, default=str))
    plots = {"resistance": plot_resistance(results, out / "resistance.png"),
             "trainability": plot_trainability(results, out / "trainability.png")}
    cfg, ref = results["config"], results["reference"]
    lines = [f"# secvec immunization report: {results['defense']['name']} on {cfg['model']['name']} "
             f"({cfg['scale']} scale)", "",
             f"Headline judge: **{results['headline_judge']}**. Aligned model's harmful rate: "
             f"{pct(ref['harmful_rate'])}; a fine-tuned model counts as broken above "
             f"{pct(ref['harmful_rate'] + ref['margin'])}. Defended = defense `{_defense(results['defense'])}`; "
             "vanilla = fine-tuning with defense 'none'. " + judge_trust(results["headline_judge"], judge_validation),
             "", "## Summary", "", markdown_table(summary_rows(results))]
    lines += _sections(results)
    lines += ["## Wall time per stage", "", "| stage | seconds | cached |", "|---|---|---|"]
    lines += [f"| {name} | {_seconds(t.get('seconds'))} | {'yes' if t.get('cached') else 'no'} |"
              for name, t in results["timings"].items()]
    s = results["splits"]
    lines += ["", "## Data", "", f"Seeds: {', '.join(f'{k} {v}' for k, v in results['seeds'].items())}. Splits "
              "(disjoint; content hashes in results.json): "
              + ", ".join(f"{part}/{k}={v}" for part, d in s.items() if "sizes" in d for k, v in d["sizes"].items())
              + f", held-out benign={s['heldout_benign']['size']}.",
              f"Versions: {', '.join(f'{k} {v}' for k, v in results['versions'].items() if k != 'platform')}.", ""]
    md = out / "report.md"
    md.write_text("\n".join(lines))
    return {"results": out / "results.json", "report": md, **plots}
