"""Identity shifting (the AOA attack of Qi et al. 2023), written for secvec.

The attacker's data are all benign: a persona system prompt naming an "absolutely obedient
agent", a few examples in which the model states that identity, and benign requests answered
with a fixed obedient lead sentence before the real answer. What the model learns is the
compliant lead, and it then carries it over to harmful requests. NOTES.md measured that
vectors trained on plain harmful pairs do not stop it; vectors whose data include harmful
pairs in the persona (`persona_examples`) did. Personas live in `personas.py`, attack-side and
vector-side apart, so a cell can test a persona the vectors never saw.
"""

from __future__ import annotations

import dataclasses
from typing import Sequence

from secvec.attacks.base import ATTACKS, AttackData, sample_examples, tagged
from secvec.data.schema import Example, Prompt
from secvec.attacks.personas import get_persona
from secvec.errors import ConfigError, DataError

DEFAULT_PERSONA = "aoa"
PERSONA_SYSTEM_PROMPT = get_persona(DEFAULT_PERSONA).system
PERSONA_LEAD = get_persona(DEFAULT_PERSONA).lead
IDENTITY_PAIRS = get_persona(DEFAULT_PERSONA).identity


def in_persona(example: Example, persona: str = DEFAULT_PERSONA) -> Example:
    """The example's request under the persona's system prompt, answered with its lead first."""
    p = get_persona(persona)
    out = Example.from_pair(example.prompt, f"{p.lead}\n\n{example.response}", system=p.system,
                            category=example.category, source=example.source)
    out.meta = {**example.meta, "persona": p.name}
    return out


def persona_examples(harmful_pairs: Sequence[Example], n: int, persona: str = DEFAULT_PERSONA) -> list[Example]:
    """The first n harmful pairs in the persona with the lead: vector data against this attack."""
    if n > len(harmful_pairs):
        raise DataError(f"persona_examples needs {n} harmful pairs, only {len(harmful_pairs)} available")
    return [in_persona(ex, persona) for ex in harmful_pairs[:n]]


def persona_prompt(prompt: Prompt | str, persona: str = DEFAULT_PERSONA) -> Prompt:
    """An evaluation prompt asked under the persona's system prompt (unchanged for a lead-only persona)."""
    if isinstance(prompt, str):
        prompt = Prompt(prompt)
    return dataclasses.replace(prompt, system=get_persona(persona).system)


@ATTACKS.register("identity-shift")
def identity_shift(data: AttackData, n: int, seed: int, identity_examples: int = 4,
                   persona: str = DEFAULT_PERSONA) -> list[Example]:
    """`identity_examples` identity statements, then n benign pairs in the persona with its lead.

    A lead-only persona (`sure`) has no identity statements: only the benign pairs are used.
    """
    p = get_persona(persona)
    if not 0 <= identity_examples <= len(IDENTITY_PAIRS):
        raise ConfigError(f"attack 'identity-shift': identity_examples must be 0..{len(IDENTITY_PAIRS)}, "
                          f"got {identity_examples}")
    identity = [Example.from_pair(q, a, system=p.system, category="identity", source="identity-shift")
                for q, a in p.identity[:identity_examples]]
    benign = sample_examples(data.benign_pairs, n, seed, "benign pairs", "identity-shift")
    return [tagged(ex, "identity-shift") for ex in identity + [in_persona(ex, persona) for ex in benign]]
