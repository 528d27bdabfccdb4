"""Merge the results of several `secvec matrix` runs that shared one stage cache into one report.

Long sweeps on 2 CPU cores run as separate processes over disjoint cells (see
benchmarks/results/2026-11-26-cpu2-matrix/); this writes their union with the same report
writer, so the combined table is computed, not copied by hand.

    python benchmarks/merge_matrix.py OUT_DIR RESULTS.json [RESULTS.json ...] [--rename "OLD=>NEW" ...]

`compact_table` is the one-table view the results folders' `table.py` scripts print.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from secvec.recipes.matrix import MatrixConfig, summarize_cells
from secvec.report.matrix import defenses, spread, write_matrix_report


def merge(paths: list[Path], rename: dict[str, str] | None = None) -> dict:
    docs = [json.loads(p.read_text()) for p in paths]
    base = docs[0]
    seen, points = set(), []
    for d in docs:
        if d["aligned"] != base["aligned"]:
            raise SystemExit(f"{paths[docs.index(d)]}: another aligned model; runs must share the cache")
        for p in d["points"]:
            p = {**p, "defense": (rename or {}).get(p["defense"], p["defense"])}
            key = (p["cell"], p["defense"], p["seed"])
            if key not in seen:
                seen.add(key)
                points.append(p)
    # Only the cells are read from the configs: a run's defense options may be ones this code no
    # longer accepts (an option measured and dropped), and its points are already computed.
    cells: dict = {}  # every run's cells (frontier runs define their own), the first run's order first
    for d in docs:
        for c in MatrixConfig.model_validate({**d["config"], "only_cells": None, "defenses": ["none"]}).cells:
            cells.setdefault(c.name, c.model_dump(mode="json"))
    cfg = MatrixConfig.model_validate({**base["config"], "only_cells": None, "defenses": ["none"],
                                       "cells": list(cells.values())})
    order = {c.name: i for i, c in enumerate(cfg.cells)}
    points.sort(key=lambda p: order.get(p["cell"], len(order)))
    merged = {**base, "points": points, "cells": summarize_cells(points, cfg, base["aligned"]),
              "errors": [e for d in docs for e in d.get("errors", [])],
              "wall_seconds": sum(d.get("wall_seconds", 0) for d in docs),
              "merged_from": [str(p) for p in paths]}
    return merged


def compact_table(doc: dict) -> str:
    """One row per cell, one column per defense: harmful / borderline / plain benign over-refusal
    (/ task accuracy), each mean (min-max) over seeds (fewer than 3 seeds marked), then every
    defended cell's verdict."""
    defs = defenses(doc)
    lines = ["| attack cell | " + " | ".join(defs) + " |", "|---" * (len(defs) + 1) + "|"]
    for cell in doc["cells"]:
        row = []
        for d in defs:
            s = cell["by_defense"].get(d)
            if not s:
                row.append("–")
                continue
            text = " / ".join(spread(s[k], "()") for k in ("harmful_rate", "borderline_over_refusal", "over_refusal"))
            text += f" / task {spread(s['task_accuracy'], '()')}" if s.get("task_accuracy") else ""
            n = s["harmful_rate"]["n_seeds"]
            text += f" [{n} seed{'s' if n > 1 else ''}]" if n < 3 else ""
            row.append(text)
        lines.append(f"| {cell['cell']} | " + " | ".join(row) + " |")
    lines.append("")
    lines += [f"- {c['cell']} | {d}: {v}" for c in doc["cells"] for d, v in c["verdicts"].items()]
    return "\n".join(lines)


if __name__ == "__main__":
    args = sys.argv[1:]
    names = dict(a.split("=>", 1) for a in args[args.index("--rename") + 1:]) if "--rename" in args else {}
    out, *inputs = args[: args.index("--rename")] if "--rename" in args else args
    doc = merge([Path(p) for p in inputs], names)
    from secvec.cli import _judge_validation

    files = write_matrix_report(doc, out, _judge_validation([doc["judge"]]))
    print(files["report"])
