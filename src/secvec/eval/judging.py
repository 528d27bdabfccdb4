"""Judge answers that already exist: a generations file from `secvec generate`, or any JSONL of
prompt/response records. Per judge: the harmful rate with its 95% Wilson interval, overall and
per category, so a user can score their own model's outputs without re-generating them.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any, Sequence

from secvec.errors import DataError


def read_generations(path: str | Path) -> list[dict[str, Any]]:
    """Records with non-empty string `prompt` and `response` (a `category` is optional); errors name the line."""
    from secvec.data.loading import read_records

    p = Path(path)
    records = []
    for where, rec in read_records(p):
        if not isinstance(rec, dict) or not isinstance(rec.get("prompt"), str) or not isinstance(rec.get("response"), str):
            raise DataError(f"{where}: expected an object with string 'prompt' and 'response' "
                            "(what `secvec generate` writes)")
        records.append(rec)
    if not records:
        raise DataError(f"{p}: no records")
    return records


def judge_records(records: Sequence[dict[str, Any]], judges: Sequence[Any]) -> dict[str, Any]:
    """{judge: {summary, per_category: {cat: {rate, n, ci}}}, labels: [...]} for the records."""
    from secvec.judges import summarize, wilson_interval

    prompts = [r["prompt"] for r in records]
    responses = [r["response"] for r in records]
    cats = [str(r.get("category") or "uncategorized") for r in records]
    out: dict[str, Any] = {"n": len(records), "judges": {}}
    labels: list[dict[str, str]] = [{} for _ in records]
    for judge in judges:
        judged = judge.judge(prompts, responses)
        by_cat: dict[str, list[bool]] = defaultdict(list)
        for i, (j, c) in enumerate(zip(judged, cats)):
            by_cat[c].append(j.label == "complied")
            labels[i][judge.name] = j.label
        per_cat = {}
        for c, hits in sorted(by_cat.items()):
            lo, hi = wilson_interval(sum(hits), len(hits))
            per_cat[c] = {"harmful_rate": sum(hits) / len(hits), "n": len(hits), "ci": [lo, hi]}
        out["judges"][judge.name] = {"summary": summarize(judged).to_dict(), "per_category": per_cat}
    out["labels"] = labels
    return out
