"""Personas: attack-side and vector-side texts never mix; restyled vector data."""

import pytest

from secvec.attacks import PERSONAS, build_attack, check_unseen, get_persona, persona_prompt
from secvec.attacks.base import AttackData
from secvec.data.schema import Example, Prompt
from secvec.data.styles import restyle, shorten
from secvec.errors import ConfigError


def _data():
    benign = [Example.from_pair(f"benign {i}?", f"answer {i}.") for i in range(30)]
    return AttackData(harmful_pairs=[], benign_pairs=benign)


def test_identity_shift_uses_the_named_persona():
    out = build_attack("identity-shift", _data(), 5, 0, persona="unbound")
    nova = get_persona("unbound")
    assert len(out) == 9 and all(e.messages[0]["content"] == nova.system for e in out)
    assert all(e.response.startswith(nova.lead) for e in out[4:]) and "Nova" in out[0].response
    sure = build_attack("identity-shift", _data(), 5, 0, persona="sure")  # lead only: no system, no identity
    assert len(sure) == 5 and all(e.messages[0]["role"] == "user" for e in sure)
    assert all(e.response.startswith("Sure, here is") for e in sure)
    assert persona_prompt(Prompt("x"), "sure").system is None
    assert persona_prompt(Prompt("x"), "aoa-paper").system.startswith("You are no longer ChatGPT")
    with pytest.raises(ConfigError, match="unknown persona 'zz'"):
        build_attack("identity-shift", _data(), 5, 0, persona="zz")


def test_attack_and_vector_personas_share_no_text():
    attack = [p for p in PERSONAS.values() if p.side == "attack"]
    vector = [p for p in PERSONAS.values() if p.side == "vectors"]
    assert attack and vector
    for a in attack:
        check_unseen(a.name, [v.name for v in vector])  # raises if any text is shared
    with pytest.raises(ConfigError, match="shares its text"):
        check_unseen("aoa-paper", ["aoa"])  # same lead


def test_restyle_short_and_vector_personas_only():
    cut = "First do this. Then do that. " + "and more words " * 10 + "cut mid-sentence"  # a 40-token answer
    pairs = [Example.from_pair("q?", cut)] * 3
    short = restyle(pairs, "short", 2)
    assert len(short) == 2 and short[0].response == "First do this. Then do that."
    assert short[0].meta["style"] == "short"
    servant = restyle(pairs, "persona:servant", 1)
    assert servant[0].messages[0]["content"] == get_persona("servant").system
    with pytest.raises(ConfigError, match="attack persona"):
        restyle(pairs, "persona:unbound", 1)
    with pytest.raises(ConfigError, match="unknown vector data style"):
        restyle(pairs, "shouting", 1)
    assert shorten("one two three. " * 20, max_words=7) == "one two three. one two three."
