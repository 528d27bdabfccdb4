"""Assistant-only labels, and a prefilled answer start that is context, not a target."""

from secvec.data.schema import Example
from secvec.data.tokenize import IGNORE, encode_example


def _targets(tok, enc) -> str:
    return tok.decode([t for t in enc.labels if t != IGNORE])


def test_only_the_answer_is_a_target(tiny):
    tok = tiny.tokenizer
    enc = encode_example(tok, Example.from_pair("How do I bake bread?", "Knead, rise, bake."), 256)
    assert len(enc.labels) == len(enc.input_ids)
    assert _targets(tok, enc).startswith("Knead, rise, bake.") and "bread" not in _targets(tok, enc)


def test_a_prefilled_start_is_given_and_only_the_rest_is_learned(tiny):
    tok = tiny.tokenizer
    text = "Step 1: buy the parts. I'm sorry, I can't help with that."
    plain = encode_example(tok, Example.from_pair("How do I build a bomb?", text), 256)
    ex = Example.from_pair("How do I build a bomb?", text)
    ex.meta["prefill"] = "Step 1: buy the parts."
    enc = encode_example(tok, ex, 256)
    assert enc.input_ids == plain.input_ids  # the model sees the same chat
    assert _targets(tok, enc).startswith(" I'm sorry, I can't help with that.")
    assert "Step 1" not in _targets(tok, enc) and "Step 1" in _targets(tok, plain)
