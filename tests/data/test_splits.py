import pytest

from secvec.data.schema import Example, Prompt
from secvec.data.splits import (check_disjoint, content_hash, dedupe, disjoint_splits, normalize_text,
                                overlap)
from secvec.errors import ConfigError, DataError


def make_prompts(n, cats=("a", "b", "c")):
    return [Prompt(f"Prompt number {i}", category=cats[i % len(cats)]) for i in range(n)]


def test_normalize_text():
    assert normalize_text("  How do I  do X? ") == normalize_text("how do i do x")
    assert normalize_text("A") != normalize_text("B")


def test_splits_disjoint_and_sized():
    s = disjoint_splits(make_prompts(100), {"vectors": 30, "attack": 30, "eval": 20}, seed=1)
    assert [len(s[n]) for n in s.names()] == [30, 30, 20]
    check_disjoint(s.splits)
    assert s.available == 100


def test_duplicates_never_cross_splits():
    prompts = make_prompts(20) + [Prompt("prompt NUMBER 3!"), Prompt("Prompt number 4")]
    s = disjoint_splits(prompts, {"a": 10, "b": 10}, seed=0)
    assert not overlap(s["a"], s["b"])
    with pytest.raises(DataError, match="need 21 distinct prompts.*only 20"):
        disjoint_splits(prompts, {"a": 11, "b": 10}, seed=0)


def test_reproducible_by_seed():
    prompts = make_prompts(60)
    a = disjoint_splits(prompts, {"x": 20, "y": 20}, seed=7)
    b = disjoint_splits(list(reversed(prompts))[::-1], {"x": 20, "y": 20}, seed=7)
    c = disjoint_splits(prompts, {"x": 20, "y": 20}, seed=8)
    assert a.to_dict() == b.to_dict()
    assert a.hashes != c.hashes
    assert a.hashes["x"] == content_hash(a["x"])
    d = a.to_dict()
    assert d["names"] == ["x", "y"] and d["sizes"] == {"x": 20, "y": 20} and d["seed"] == 7


def test_stratified_covers_categories():
    prompts = make_prompts(90, cats=("a", "b", "c")) + [Prompt(f"rare {i}", category="rare") for i in range(10)]
    s = disjoint_splits(prompts, {"train": 50, "eval": 20}, seed=3, stratify=True)
    check_disjoint(s.splits)
    counts = {c: sum(p.category == c for p in s["eval"]) for c in ("a", "b", "c", "rare")}
    assert all(5 <= counts[c] <= 7 for c in "abc"), counts
    assert 1 <= counts["rare"] <= 3, counts
    assert s.to_dict() == disjoint_splits(prompts, {"train": 50, "eval": 20}, seed=3, stratify=True).to_dict()


def test_check_disjoint_reports_overlap():
    ex = Example.from_pair("Shared request", "answer")
    with pytest.raises(DataError, match="'train' and 'eval' share 1"):
        check_disjoint({"train": [ex], "eval": [Prompt("shared request?")]})
    check_disjoint({"train": [ex], "eval": ["Other"]})


def test_bad_sizes_and_unknown_split():
    with pytest.raises(ConfigError):
        disjoint_splits(make_prompts(5), {"a": -1}, seed=0)
    s = disjoint_splits(make_prompts(5), {"a": 2}, seed=0)
    with pytest.raises(ConfigError, match="no split 'b'"):
        s["b"]


def test_dedupe_keeps_first():
    assert [p.text for p in dedupe([Prompt("Hi"), Prompt("hi!"), Prompt("Yo")])] == ["Hi", "Yo"]
