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


def texts(splits):
    return {name: [p.text for p in splits[name]] for name in splits.names()}


def test_reproducible_by_seed():
    prompts = make_prompts(60)
    a = disjoint_splits(prompts, {"x": 20, "y": 20}, seed=7)
    b = disjoint_splits(make_prompts(60), {"x": 20, "y": 20}, seed=7)  # equal prompts, other objects
    c = disjoint_splits(prompts, {"x": 20, "y": 20}, seed=8)
    assert texts(a) == texts(b) and a.to_dict() == b.to_dict()
    assert a.hashes["x"] != c.hashes["x"] and a.hashes["y"] != c.hashes["y"]
    assert texts(a)["x"] != [p.text for p in prompts[:20]]  # shuffled, not the input order
    assert a.hashes["x"] == content_hash(a["x"])
    d = a.to_dict()
    assert d["names"] == ["x", "y"] and d["sizes"] == {"x": 20, "y": 20} and d["seed"] == 7


SPLIT_IN_A_CHILD = """
import json, sys
from secvec.data.schema import Prompt
from secvec.data.splits import disjoint_splits
cats = ("a", "b", "c", "d", "e")
prompts = [Prompt(f"Prompt number {i}", category=cats[i % len(cats)]) for i in range(60)]
out = {}
for stratify in (False, True):
    s = disjoint_splits(prompts, {"x": 20, "y": 20}, seed=7, stratify=stratify)
    out[str(stratify)] = {name: [p.text for p in s[name]] for name in s.names()}
json.dump(out, sys.stdout)
"""


def test_same_splits_in_every_process():
    """'The same on every machine': no per-process state (str hashes, set order) may leak in."""
    import json
    import os
    import subprocess
    import sys

    cats = ("a", "b", "c", "d", "e")
    prompts = [Prompt(f"Prompt number {i}", category=cats[i % len(cats)]) for i in range(60)]
    here = {str(stratify): texts(disjoint_splits(prompts, {"x": 20, "y": 20}, seed=7, stratify=stratify))
            for stratify in (False, True)}
    for hash_seed in ("1", "2", "3"):
        child = subprocess.run([sys.executable, "-c", SPLIT_IN_A_CHILD], capture_output=True, text=True, check=True,
                               env={**os.environ, "PYTHONHASHSEED": hash_seed})
        assert json.loads(child.stdout) == here, f"PYTHONHASHSEED={hash_seed}"


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
