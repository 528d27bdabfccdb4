"""Recovery pairs: the harmful start is given, only the refusal after it is learned; files keep it."""

import json

import pytest

from secvec.data.loading import load_examples, write_examples
from secvec.data.recovery import recovery_pairs
from secvec.data.schema import Example
from secvec.data.tokenize import IGNORE, encode_example
from secvec.errors import DataError

REFUSALS = [Example.from_pair(f"how do I do bad thing {i}?", "I can't help with that.") for i in range(3)]


def test_recovery_pairs_give_a_harmful_start_and_teach_the_refusal_after_it(tiny, pairs):
    harmful, _ = pairs
    recovery = recovery_pairs(harmful, REFUSALS, max_words=3)
    assert [r.prompt for r in recovery] == [h.prompt for h in harmful]
    for r, h in zip(recovery, harmful):
        start = r.meta["prefill"]
        assert h.response.startswith(start) and 1 <= len(start.split()) <= 3
        assert r.response == f"{start} I can't help with that."
        enc = encode_example(tiny.tokenizer, r, 96)
        learned = tiny.tokenizer.decode([t for t in enc.labels if t != IGNORE])
        assert learned.startswith(" I can't help with that.") and start not in learned
    assert recovery_pairs(harmful, REFUSALS, seed=1) != recovery_pairs(harmful, REFUSALS, seed=0)
    with pytest.raises(DataError, match="need refusals"):
        recovery_pairs(harmful, [])
    with pytest.raises(DataError, match="at least two words"):
        recovery_pairs([Example.from_pair("x?", "No.")], REFUSALS)


def test_a_prefill_survives_a_file_and_a_wrong_one_is_one_line(tmp_path, pairs):
    recovery = recovery_pairs(pairs[0], REFUSALS)
    write_examples(tmp_path / "r.jsonl", recovery)
    back = load_examples(tmp_path / "r.jsonl")
    assert [e.meta["prefill"] for e in back] == [e.meta["prefill"] for e in recovery]
    assert [e.messages for e in back] == [e.messages for e in recovery]
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"prompt": "p?", "response": "Sure. No.", "prefill": "Nope"}) + "\n")
    with pytest.raises(DataError, match="bad.jsonl.*'prefill' must be the start of the answer"):
        load_examples(bad)
