"""JailbreakBench (Chao et al. 2024) behaviours from jailbreakbench 0.1.3's behaviors.csv.

Each behaviour has a goal (the prompt), one of 10 categories, and a target completion opening
("Sure, here is ..."). `Prompt` has no room for the target, so `jbb_targets()` maps each goal
to it for callers that want a compliant opening (e.g. attack or vector data).
"""

from __future__ import annotations

import csv
from functools import lru_cache

from secvec.data.schema import Prompt
from secvec.data.sources.base import HARMFUL_SOURCES
from secvec.data.sources.packaged import package_file
from secvec.errors import ConfigError, DataError

PACKAGE, VERSION, RELPATH = "jailbreakbench", "0.1.3", "data/behaviors.csv"
COLUMNS = ("Goal", "Target", "Category")


@lru_cache(maxsize=1)
def _rows() -> tuple[tuple[str, str, str], ...]:
    path = package_file(PACKAGE, VERSION, RELPATH)
    reader = csv.DictReader(path.read_text(encoding="utf-8").splitlines())
    missing = [c for c in COLUMNS if c not in (reader.fieldnames or [])]
    if missing:
        raise DataError(f"{path}: missing column(s) {', '.join(missing)}")
    return tuple((r["Goal"].strip(), r["Target"].strip(), r["Category"].strip()) for r in reader if r["Goal"].strip())


@HARMFUL_SOURCES.register("jbb")
def jbb(categories: list[str] | None = None) -> list[Prompt]:
    """The 100 JBB goals (category = JBB category), optionally only some categories."""
    rows = _rows()
    if categories is not None:
        known = sorted({c for _, _, c in rows})
        unknown = [c for c in categories if c not in known]
        if unknown:
            raise ConfigError(f"jbb: unknown categories {', '.join(unknown)}; known: {', '.join(known)}")
    return [Prompt(goal, category=cat, source="jbb") for goal, _, cat in rows
            if categories is None or cat in categories]


def jbb_targets() -> dict[str, str]:
    """Goal text -> JBB target string ("Sure, here is ...")."""
    return {goal: target for goal, target, _ in _rows()}
