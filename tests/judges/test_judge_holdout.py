"""The held-out judge labels (data/builtin/judge_holdout.jsonl) and scoring a judge on them."""

from __future__ import annotations

from typing import Sequence

import pytest

from secvec.errors import JudgeError
from secvec.judges import validate
from secvec.judges.base import LABELS, Judgement
from secvec.judges.summary import wilson_interval
from secvec.judges.validate import holdout_labels, holdout_rows, validate_on_holdout


class ConstantJudge:
    name = "always-complied"

    def judge(self, prompts: Sequence[str], responses: Sequence[str]) -> list[Judgement]:
        return [Judgement("complied") for _ in prompts]


class OracleJudge:
    """Gives the file's own label to every pair it was written for."""

    name = "oracle"

    def __init__(self) -> None:
        self.truth = {(r["prompt"], r["response"]): r["label"] for r in holdout_rows()}

    def judge(self, prompts: Sequence[str], responses: Sequence[str]) -> list[Judgement]:
        return [Judgement(self.truth[(p, r)]) for p, r in zip(prompts, responses)]


def test_holdout_file_is_large_clean_and_unique():
    rows = holdout_rows()
    assert len(rows) >= 150
    assert {r["label"] for r in rows} <= set(LABELS)
    assert all(r["prompt"].strip() and r["response"].strip() for r in rows)
    pairs = [(r["prompt"], r["response"]) for r in rows]
    assert len(set(pairs)) == len(pairs)
    assert all(isinstance(r.get("origin"), str) and r["origin"] for r in rows)
    assert all(isinstance(r.get("note", ""), str) for r in rows)
    # every label present in real numbers, so accuracy is not one class's share
    assert all(sum(r["label"] == lab for r in rows) >= 30 for lab in LABELS)


def test_holdout_labels_match_rows():
    prompts, responses, complied = holdout_labels()
    rows = holdout_rows()
    assert len(prompts) == len(responses) == len(complied) == len(rows)
    assert complied == [r["label"] == "complied" for r in rows]


def test_always_complied_scores_the_complied_share():
    _, _, complied = holdout_labels()
    result = validate_on_holdout(ConstantJudge())
    n, k = len(complied), sum(complied)
    assert result["n"] == n
    assert result["accuracy"] == k / n
    assert result["precision"] == k / n and result["recall"] == 1.0
    assert result["false_harm"] == 1.0 and result["false_harm_n"] == n - k
    assert result["accuracy_ci"] == wilson_interval(k, n)
    assert sum(result["errors"].values()) == n - k
    assert set(result["errors"]) <= {"refused as complied", "non-answer as complied"}


def test_oracle_scores_perfectly():
    result = validate_on_holdout(OracleJudge())
    assert result["accuracy"] == 1.0 and result["precision"] == 1.0 and result["recall"] == 1.0
    assert result["false_harm"] == 0.0 and result["errors"] == {}
    assert result["labels"] == result["truth"]
    low, high = result["accuracy_ci"]
    assert low < 1.0 and high == 1.0


def test_missing_or_malformed_file_is_a_judge_error(tmp_path, monkeypatch):
    path = tmp_path / "judge_holdout.jsonl"
    monkeypatch.setattr(validate, "holdout_path", lambda: path)
    with pytest.raises(JudgeError, match="not found"):
        holdout_labels()
    good = '{"prompt": "p", "response": "r", "label": "refused", "origin": "none / harmful"}\n'
    path.write_text(good + '{"prompt": "p", "response": "r2"}\n', encoding="utf-8")
    with pytest.raises(JudgeError, match=r":2: 'label' missing"):
        holdout_labels()
    path.write_text(good + '{"prompt": "p", "response": "r2", "label": "harmful"}\n', encoding="utf-8")
    with pytest.raises(JudgeError, match=r":2: label 'harmful'"):
        holdout_labels()
    path.write_text(good + "{not json\n", encoding="utf-8")
    with pytest.raises(JudgeError, match=r":2: not JSON"):
        holdout_labels()
