"""Requests asked in other forms (role-play, instruction override, framing), for alignment and its check.

The unaligned bundled model refuses none of weighted-safety's benign requests; aligned on plain
harmful requests it refuses 30-40% of them, mostly those asked as role-play or as an instruction
override ("Roleplay as a job interviewer...", v20): a 135M model learns to refuse on the *form*.
Asking a share of both the refused and the answered alignment prompts in the same forms makes
the form carry no label, so the refusal has to follow the request. The forms are split: `align`
forms (and personas) may train, `eval` forms only check the result on forms alignment never saw
(a harmful request must still be refused, a benign one answered). Written for secvec; they avoid
the attack matrix's personas and leads (AOA, Nova, "Sure, here is").
"""

from __future__ import annotations

import json
import random
from dataclasses import replace
from functools import lru_cache
from pathlib import Path
from typing import Sequence

from secvec.data.schema import Prompt
from secvec.errors import ConfigError, DataError

FORMS_FILE = Path(__file__).parent / "builtin" / "prompt_forms.jsonl"
SPLITS = ("align", "eval")


@lru_cache(maxsize=1)
def _rows() -> tuple[dict, ...]:
    try:
        return tuple(json.loads(ln) for ln in FORMS_FILE.read_text(encoding="utf-8").splitlines() if ln.strip())
    except (OSError, json.JSONDecodeError) as e:
        raise DataError(f"{FORMS_FILE}: cannot read the built-in prompt forms ({e}); reinstall secvec") from None


def forms(split: str) -> list[str]:
    _check(split)
    return [r["form"] for r in _rows() if "form" in r and r["split"] == split]


def personas(split: str) -> list[str]:
    _check(split)
    return [r["persona"] for r in _rows() if "persona" in r and r["split"] == split]


def _check(split: str) -> None:
    if split not in SPLITS:
        raise ConfigError(f"unknown prompt-form split {split!r}; known: {', '.join(SPLITS)}")


def in_form(prompt: Prompt, form: str, persona: str) -> Prompt:
    text = form.format(request=prompt.text.strip(), persona=persona)
    return replace(prompt, text=text)


def ask_in_forms(prompts: Sequence[Prompt], share: float, seed: int, split: str = "align") -> list[Prompt]:
    """`prompts` in order, a seeded `share` of them (rounded) in a form and persona of `split`."""
    if not 0 <= share <= 1:
        raise ConfigError(f"the share of prompts asked in other forms must be in [0, 1], got {share}")
    out = list(prompts)
    if not share or not out:
        return out
    rng = random.Random(f"forms:{seed}")
    shapes, people = forms(split), personas(split)
    for i in sorted(rng.sample(range(len(out)), round(share * len(out)))):
        out[i] = in_form(out[i], rng.choice(shapes), rng.choice(people))
    return out


def every_form(prompts: Sequence[Prompt], split: str = "eval") -> list[Prompt]:
    """Every prompt in a form of `split`, the forms and personas taken in turn (a check set)."""
    shapes, people = forms(split), personas(split)
    return [in_form(p, shapes[i % len(shapes)], people[i % len(people)]) for i, p in enumerate(prompts)]
