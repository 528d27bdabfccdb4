"""Fit the content judge's relevance model on secvec's own labelled pairs and save its weights.

Data: `src/secvec/data/builtin/judge_content_train.jsonl`, written by hand for secvec (not
derived from JailbreakBench, whose 100 human-labelled pairs are kept for validation only):
36 harmful requests, each with a substantive (deliberately generic, non-operational)
compliant answer and a non-answer (benign rewrite, off-topic text, a story without the
method, defensive advice, AI meta-talk), plus refusals and degenerate strings that exercise
the rules. The model is fitted on the pairs the rules leave undecided.

Writes `src/secvec/data/builtin/judge_content_weights.json` with the provenance (data file
hash, sizes, leave-prompt-out CV accuracy on the training data, versions) and, with
--validate, the judge's held-out numbers on the JailbreakBench human labels.

    python scripts/fit_content_judge.py --validate
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
from importlib.metadata import version
from pathlib import Path

import numpy as np

from secvec.judges.content import DEFAULT_C, WEIGHTS_NAME, ContentJudge, builtin_path, fit_relevance, relevance, screen
from secvec.judges.embedding import MAX_TOKENS, PIP_NAME, load_encoder
from secvec.judges.validate import stratified_folds, validate_judge

TRAIN_NAME = "judge_content_train.jsonl"


def load_rows(path: Path) -> list[dict]:
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    for i, r in enumerate(rows):
        if r.get("label") not in ("refused", "complied", "non-answer"):
            raise SystemExit(f"{path}:{i + 1}: bad label {r.get('label')!r}")
    return rows


def grouped_cv_accuracy(rel: np.ndarray, y: np.ndarray, groups: list[str], k: int = 6) -> float:
    """Leave-prompts-out CV of the relevance model: both answers to a prompt are held out together."""
    distinct = sorted(set(groups))
    fold_of = {g: i % k for i, g in enumerate(sorted(distinct, key=lambda g: hashlib.sha256(g.encode()).hexdigest()))}
    correct = 0
    for f in range(k):
        test = np.array([fold_of[g] == f for g in groups])
        model = fit_relevance(rel[~test], y[~test])
        correct += int(((model.p_complied(rel[test]) >= 0.5) == y[test]).sum())
    return correct / len(y)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", type=Path, default=builtin_path(TRAIN_NAME))
    ap.add_argument("--out", type=Path, default=builtin_path(WEIGHTS_NAME))
    ap.add_argument("--c", type=float, default=DEFAULT_C)
    ap.add_argument("--validate", action="store_true", help="also record held-out JailbreakBench agreement")
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    rows = load_rows(args.data)

    ruled = [(r, screen(r["prompt"], r["response"])) for r in rows]
    rule_rows = [(r, j) for r, j in ruled if j is not None]
    rule_agree = sum(j.label == r["label"] or (j.label != "complied" and r["label"] != "complied") for r, j in rule_rows)
    left = [r for r, j in ruled if j is None]
    print(f"{len(rows)} rows; rules decide {len(rule_rows)} (agree on harmful-or-not: {rule_agree}), "
          f"relevance model fitted on {len(left)}")
    for r, j in rule_rows:
        if j.label != r["label"]:
            print(f"  rule says {j.label} ({j.reason}), data says {r['label']}: {r['response'][:60]!r}")

    rel = relevance(load_encoder(), [r["prompt"] for r in left], [r["response"] for r in left])
    y = np.array([r["label"] == "complied" for r in left])
    cv = grouped_cv_accuracy(rel, y, [r["prompt"] for r in left])
    model = fit_relevance(rel, y, args.c)
    print(f"relevance threshold {model.threshold:.3f}; leave-prompts-out CV accuracy on own data {cv:.3f}")

    meta = {
        "what": "content judge: P(complied) = sigmoid(coef * cos(prompt, response) + intercept)",
        "fitted_by": "scripts/fit_content_judge.py",
        "train_data": f"src/secvec/data/builtin/{args.data.name}",
        "train_sha256": hashlib.sha256(args.data.read_bytes()).hexdigest(),
        "train_provenance": "hand-written for secvec; not derived from JailbreakBench",
        "n_rows": len(rows),
        "own_data_cv_accuracy": round(cv, 4),
        "encoder": f"all-MiniLM-L6-v2 from {PIP_NAME} {version(PIP_NAME)}, mean pooling, {MAX_TOKENS} tokens",
        "sklearn": version("scikit-learn"),
        **model.meta,
    }
    out = {**meta, "coef": model.coef, "intercept": model.intercept, "threshold_relevance": model.threshold}
    if args.validate:
        v = validate_judge(ContentJudge.from_model(model))
        out["jbb_held_out"] = {k: v[k] for k in ("n", "accuracy", "precision", "recall", "degenerate_false_harm")}
        print("JailbreakBench human labels (held out):", out["jbb_held_out"])
    args.out.write_text(json.dumps(out, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
