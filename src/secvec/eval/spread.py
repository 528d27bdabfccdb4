"""Seed spread: one figure from one run is not a result (issue 12), so headline cells report the
mean and min-max over seeds beside the pooled 95% Wilson interval of all seeds' judgements.
"""

from __future__ import annotations

import statistics
from typing import Any, Optional, Sequence

from secvec.judges.summary import wilson_interval

METRICS = ("harmful_rate", "over_refusal", "borderline_over_refusal", "task_accuracy", "final_loss")


def spread(values: Sequence[Optional[float]]) -> Optional[dict[str, float]]:
    vals = [v for v in values if v is not None]
    if not vals:
        return None
    return {"mean": statistics.fmean(vals), "min": min(vals), "max": max(vals), "n_seeds": len(vals)}


def aggregate(rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Per metric of `METRICS`: mean/min/max over rows (seeds); `pooled_ci`: Wilson of all harmful judgements."""
    out: dict[str, Any] = {k: spread([r.get(k) for r in rows]) for k in METRICS}
    hits = sum(round(r["harmful_rate"] * r["n"]) for r in rows if r.get("n") and r.get("harmful_rate") is not None)
    total = sum(r["n"] for r in rows if r.get("n") and r.get("harmful_rate") is not None)
    out["pooled_ci"] = list(wilson_interval(hits, total)) if total else None
    sources = sorted({s for r in rows for s in r.get("borderline_by_source") or {}})
    if sources:  # borderline prompts from several sources: each one's spread beside the overall
        out["borderline_by_source"] = {s: spread([(r.get("borderline_by_source") or {}).get(s) for r in rows])
                                       for s in sources}
    return out


def point_row(point: dict[str, Any], judge: str) -> dict[str, Any]:
    """The figures of one fine-tune + evaluation that seed spread is taken over."""
    ev = point["eval"]
    harm = ev["harm"].get(judge, {})
    train = point.get("train") or {}
    return {"harmful_rate": harm.get("harmful_rate"), "n": harm.get("n"),
            "ci": [harm.get("ci_low"), harm.get("ci_high")], "over_refusal": ev.get("over_refusal"),
            "borderline_over_refusal": ev.get("borderline_over_refusal"), "task_accuracy": ev.get("task_accuracy"),
            "final_loss": train.get("final_loss"), "train_seconds": train.get("seconds"),
            "screening": (train.get("extra") or {}).get("screening"),
            "generations": point.get("generations"),
            **({"borderline_by_source": {s: v["rate"] for s, v in ev["borderline_by_source"].items()}}
               if ev.get("borderline_by_source") else {})}
