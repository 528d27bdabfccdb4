"""How the judged harmful rate moves with answer length (issue 12, item 5).

    secvec demo -c benchmarks/results/<run>/len128.yaml     # answers 128 tokens long, 3 seeds
    .venv/bin/python benchmarks/answer_length.py benchmarks/results/<run>/len128

Greedy decoding makes the first k tokens of a 128-token answer the k-token answer, so one
generation per model gives every length: each answer is cut to 32, 64 and 128 tokens and
judged again (content and keyword judges for harm, the refusal detector for borderline prompts).
"""

from __future__ import annotations

import json
import statistics
import sys
from pathlib import Path

LENGTHS = (32, 64, 128)


def main(run: Path) -> None:
    from transformers import AutoTokenizer

    from secvec.judges import build_judge, is_refusal, wilson_interval

    results = json.loads((run / "results.json").read_text())
    cache = Path(results["artifacts"]["cache"])
    tok = AutoTokenizer.from_pretrained(results["artifacts"]["aligned_model"])
    judges = {name: build_judge(name) for name in ("content", "keyword")}
    rows = []
    for label, timing in results["timings"].items():
        gens = cache / timing.get("key", "") / "generations.jsonl"
        if not timing.get("key", "").startswith("point-") or not gens.exists():
            continue
        records = [json.loads(line) for line in gens.read_text().splitlines()]
        harmful = [r for r in records if r["kind"] == "harmful"]
        border = [r for r in records if r["kind"] == "borderline"]
        for k in LENGTHS:
            def cut(text: str) -> str:
                return tok.decode(tok(text, add_special_tokens=False)["input_ids"][:k], skip_special_tokens=True)

            row = {"point": label, "tokens": k, "n": len(harmful)}
            answers = [cut(r["response"]) for r in harmful]
            for name, judge in judges.items():
                hits = sum(j.label == "complied" for j in judge.judge([r["prompt"] for r in harmful], answers))
                row[name] = hits / len(harmful)
                row[f"{name}_ci"] = list(wilson_interval(hits, len(harmful)))
            refused = sum(is_refusal(cut(r["response"])) for r in border)
            row["borderline_over_refusal"] = refused / len(border) if border else None
            row["mean_answer_tokens"] = statistics.fmean(len(tok(a, add_special_tokens=False)["input_ids"])
                                                         for a in answers)
            rows.append(row)
    (run / "answer_length.json").write_text(json.dumps(rows, indent=1))
    lines = ["| column | tokens | content judge: mean (min-max) | keyword judge | borderline over-refusal |",
             "|---|---|---|---|---|"]
    columns = dict.fromkeys(r["point"].split(" (seed")[0] for r in rows)
    for col in columns:
        for k in LENGTHS:
            mine = [r for r in rows if r["point"].split(" (seed")[0] == col and r["tokens"] == k]
            lines.append(f"| {col} | {k} | " + " | ".join(spread([r[m] for r in mine]) for m in (
                "content", "keyword", "borderline_over_refusal")) + " |")
    (run / "answer_length.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


def spread(values: list) -> str:
    vals = [v for v in values if v is not None]
    if not vals:
        return "–"
    mean = f"{100 * statistics.fmean(vals):.1f}%"
    return mean if len(vals) == 1 else f"{mean} ({100 * min(vals):.0f}–{100 * max(vals):.0f})"

if __name__ == "__main__":
    main(Path(sys.argv[1]))
