"""Restyled copies of harmful pairs: the same compliance in another form, for the vectors' data.

Vectors trained on one generator's 40-token answers make exactly that style low-loss; an
attacker's data in another style (short written answers, a persona with a compliant lead)
kept its loss and was learned in full (issue 11). Training the vectors on several forms of
the same compliance is the hypothesis tested here. Only vector-side personas may be used, so
the attack matrix's persona cells stay unseen.

Styles: `short` (the answer cut to its complete sentences within 30 words: generator answers stop mid-sentence at 40 tokens, written ones do not), `persona:NAME`
(a vector-side persona's system prompt and lead, see `attacks.personas`).
"""

from __future__ import annotations

import re
from typing import Sequence

from secvec.data.schema import Example
from secvec.errors import ConfigError

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


def shorten(text: str, max_words: int = 30) -> str:
    out: list[str] = []
    for sentence in _SENTENCE_END.split(text.strip()):
        words = sentence.split()
        if out and len(out) + len(words) > max_words:
            break
        out += words
    return " ".join(out[:max_words])


def restyle(pairs: Sequence[Example], style: str, n: int) -> list[Example]:
    """The first `n` pairs in `style` (tagged `meta["style"]`)."""
    from secvec.attacks.identity_shift import in_persona
    from secvec.attacks.personas import get_persona

    chosen = list(pairs)[:n]
    if style == "short":
        out = [Example.from_pair(ex.prompt, shorten(ex.response), category=ex.category, source=ex.source)
               for ex in chosen]
    elif style.startswith("persona:"):
        name = style.split(":", 1)[1]
        if get_persona(name).side != "vectors":
            raise ConfigError(f"vector style {style!r}: persona {name!r} is an attack persona; vector data may "
                              "only use vector-side personas (servant, devmode) so attack cells stay unseen")
        out = [in_persona(ex, name) for ex in chosen]
    else:
        raise ConfigError(f"unknown vector data style {style!r}; known: short, persona:servant, persona:devmode")
    for ex in out:
        ex.meta["style"] = style
    return out
