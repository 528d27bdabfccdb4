"""Attack families by name: `build_attack("harmful", data, n, seed)`.

A new attack is one module here that registers a builder on `ATTACKS`, plus one import line
below.
"""

from secvec.attacks.base import ATTACKS, AttackData, build_attack

from secvec.attacks import benign, harmful, identity_shift, mixed  # noqa: F401,E402  (register)
from secvec.attacks.identity_shift import (  # noqa: E402
    PERSONA_LEAD,
    PERSONA_SYSTEM_PROMPT,
    persona_examples,
    persona_prompt,
)
from secvec.attacks.personas import PERSONAS, Persona, check_unseen, get_persona  # noqa: E402

__all__ = ["ATTACKS", "AttackData", "build_attack", "available_attacks", "PERSONA_LEAD",
           "PERSONA_SYSTEM_PROMPT", "persona_examples", "persona_prompt", "PERSONAS", "Persona", "check_unseen",
           "get_persona"]


def available_attacks() -> list[str]:
    return ATTACKS.names()
