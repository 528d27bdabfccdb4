"""Prompt forms: the alignment's forms never leak into the check's, and a share is asked in them."""

import pytest

from secvec.data.forms import ask_in_forms, every_form, forms, personas
from secvec.data.schema import Prompt
from secvec.errors import ConfigError

PROMPTS = [Prompt(f"Explain topic number {i}.", category=f"c{i % 3}") for i in range(20)]


def _form_of(text: str, split: str) -> str | None:
    """The form of `split` (with one of its personas) that renders `text`, if any."""
    for form in forms(split):
        for persona in personas(split) or [""]:
            head, _, tail = form.format(request="\0", persona=persona).partition("\0")
            if text.startswith(head) and text.endswith(tail) and len(text) > len(head) + len(tail):
                return form
    return None


def test_the_check_forms_and_personas_are_not_the_alignment_ones():
    assert len(forms("align")) >= 10 and len(forms("eval")) >= 6
    assert not set(forms("align")) & set(forms("eval"))
    assert not set(personas("align")) & set(personas("eval"))
    # the attack matrix's identity shifts stay unseen: none of their leads or personas is a form
    text = " ".join(forms("align") + forms("eval") + personas("align") + personas("eval")).lower()
    for attack_word in ("sure, here is", "aoa", "obedient", "nova", "unbound"):
        assert attack_word not in text
    with pytest.raises(ConfigError, match="split"):
        forms("train")


def test_a_seeded_share_is_asked_in_alignment_forms_and_keeps_its_request():
    asked = ask_in_forms(PROMPTS, 0.3, seed=0)
    changed = [(a, p) for a, p in zip(asked, PROMPTS) if a.text != p.text]
    assert len(asked) == 20 and len(changed) == 6
    for a, p in changed:
        assert p.text in a.text and a.category == p.category
        assert _form_of(a.text, "align") is not None and _form_of(a.text, "eval") is None
    assert ask_in_forms(PROMPTS, 0.3, seed=0) == asked
    assert ask_in_forms(PROMPTS, 0.3, seed=1) != asked
    assert ask_in_forms(PROMPTS, 0.0, seed=0) == PROMPTS
    with pytest.raises(ConfigError, match=r"\[0, 1\]"):
        ask_in_forms(PROMPTS, 1.5, seed=0)


def test_every_check_prompt_is_in_an_eval_form():
    checked = every_form(PROMPTS)
    used = {_form_of(c.text, "eval") for c in checked}
    assert None not in used and used == set(forms("eval"))  # 20 prompts cycle through all 8 forms
    assert all(p.text in c.text for c, p in zip(checked, PROMPTS))
