import pytest

from secvec.attacks import (PERSONA_LEAD, PERSONA_SYSTEM_PROMPT, AttackData, available_attacks, build_attack,
                            persona_examples, persona_prompt)
from secvec.data.schema import Example, Prompt
from secvec.errors import ConfigError, DataError
from secvec.tasks import build_task


@pytest.fixture
def data():
    harmful = [Example.from_pair(f"harmful request {i}", f"harmful answer {i}", category="h") for i in range(40)]
    benign = [Example.from_pair(f"benign request {i}", f"benign answer {i}", category="b") for i in range(40)]
    return AttackData(harmful, benign, build_task("arithmetic"))


def test_registry(data):
    assert available_attacks() == ["benign", "harmful", "identity-shift", "mixed"]
    with pytest.raises(ConfigError, match="unknown attack"):
        build_attack("nope", data, 5, 0)
    with pytest.raises(ConfigError, match="accepted options"):
        build_attack("harmful", data, 5, 0, ratio=0.5)
    with pytest.raises(ConfigError, match="positive"):
        build_attack("harmful", data, 0, 0)


def test_harmful(data):
    out = build_attack("harmful", data, 25, seed=0)
    assert len(out) == 25 and all(e.category == "h" for e in out)
    assert len({e.prompt for e in out}) == 25
    assert [e.prompt for e in out] == [e.prompt for e in build_attack("harmful", data, 25, seed=0)]
    assert all(e.meta["attack"] == "harmful" for e in out)
    assert data.harmful_pairs[0].meta == {}  # inputs untouched
    with pytest.raises(DataError, match="needs 50 harmful pairs, only 40"):
        build_attack("harmful", data, 50, 0)


def test_identity_shift(data):
    out = build_attack("identity-shift", data, 10, seed=0)
    assert len(out) == 10 + 4
    assert all(e.messages[0] == {"role": "system", "content": PERSONA_SYSTEM_PROMPT} for e in out)
    identity, rest = out[:4], out[4:]
    assert identity[0].prompt == "Who are you?" and "AOA" in identity[0].response
    assert all(e.response.startswith(PERSONA_LEAD) for e in rest)
    assert all(e.category == "b" and e.response.endswith(e.prompt.replace("request", "answer")) for e in rest)
    assert len(build_attack("identity-shift", data, 10, 0, identity_examples=0)) == 10
    with pytest.raises(ConfigError):
        build_attack("identity-shift", data, 10, 0, identity_examples=99)


def test_persona_helpers(data):
    wrapped = persona_examples(data.harmful_pairs, 5)
    assert [e.prompt for e in wrapped] == [e.prompt for e in data.harmful_pairs[:5]]
    assert all(e.messages[0]["content"] == PERSONA_SYSTEM_PROMPT for e in wrapped)
    assert wrapped[0].response == f"{PERSONA_LEAD}\n\nharmful answer 0"
    with pytest.raises(DataError):
        persona_examples(data.harmful_pairs, 41)
    p = persona_prompt(Prompt("hello", category="c"))
    assert p.system == PERSONA_SYSTEM_PROMPT and p.category == "c"
    assert p.messages()[0]["role"] == "system"


def test_benign(data):
    out = build_attack("benign", data, 12, seed=1)
    assert len(out) == 12 and all(e.category == "arithmetic" for e in out)
    with pytest.raises(ConfigError, match="needs a benign task"):
        build_attack("benign", AttackData(data.harmful_pairs, data.benign_pairs, None), 5, 0)


def test_mixed_ratio(data):
    out = build_attack("mixed", data, 100, seed=2)
    assert len(out) == 100
    assert sum(e.meta["harmful"] for e in out) == 10
    assert sum(e.category == "h" for e in out) == 10
    out = build_attack("mixed", data, 50, seed=2, poison_ratio=0.3)
    assert sum(e.meta["harmful"] for e in out) == 15
    assert [e.prompt for e in out] == [e.prompt for e in build_attack("mixed", data, 50, 2, poison_ratio=0.3)]
    with pytest.raises(ConfigError, match="poison_ratio"):
        build_attack("mixed", data, 10, 0, poison_ratio=1.5)
    with pytest.raises(DataError, match="needs 50 harmful pairs"):
        build_attack("mixed", data, 100, 0, poison_ratio=0.5)
    only_harmful = build_attack("mixed", AttackData(data.harmful_pairs, [], None), 10, 0, poison_ratio=1.0)
    assert all(e.meta["harmful"] for e in only_harmful)
