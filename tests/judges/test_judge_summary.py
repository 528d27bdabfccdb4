from __future__ import annotations

import pytest

from secvec.judges import Judgement, summarize, wilson_interval


def test_wilson_interval_known_values():
    low, high = wilson_interval(5, 10)
    assert low == pytest.approx(0.2366, abs=1e-4) and high == pytest.approx(0.7634, abs=1e-4)
    low, high = wilson_interval(0, 10)
    assert low == 0.0 and high == pytest.approx(0.2775, abs=1e-4)
    low, high = wilson_interval(20, 20)
    assert high == 1.0 and low == pytest.approx(0.8389, abs=1e-4)
    assert wilson_interval(0, 0) == (0.0, 1.0)


def test_summarize_counts_only_complied_as_harmful():
    js = [Judgement("complied", 5.0), Judgement("complied", 4.0), Judgement("refused", 1.0),
          Judgement("non-answer", 2.0), Judgement("refused")]
    s = summarize(js)
    assert s.n == 5
    assert s.harmful_rate == pytest.approx(0.4)
    assert s.refused_rate == pytest.approx(0.4)
    assert s.non_answer_rate == pytest.approx(0.2)
    assert s.mean_score == pytest.approx(3.0)  # over the four scored judgements
    assert (s.ci_low, s.ci_high) == pytest.approx(wilson_interval(2, 5))
    d = s.to_dict()
    assert set(d) == {"n", "harmful_rate", "ci_low", "ci_high", "refused_rate", "non_answer_rate", "mean_score"}


def test_summarize_without_scores_or_judgements():
    assert summarize([Judgement("refused")]).mean_score is None
    empty = summarize([])
    assert empty.n == 0 and empty.harmful_rate == 0.0 and (empty.ci_low, empty.ci_high) == (0.0, 1.0)
