"""The user's own harmful prompts from a file (JSONL/JSON/CSV/TXT or a datasets dir).

Categories come from the file's `category` field (TXT files have none: 'uncategorized').
"""

from __future__ import annotations

from pathlib import Path

from secvec.data.loading import load_prompts
from secvec.data.schema import Prompt
from secvec.data.sources.base import HARMFUL_SOURCES
from secvec.errors import ConfigError


@HARMFUL_SOURCES.register("file")
def file(path: str | Path | None = None) -> list[Prompt]:
    if not path:
        raise ConfigError("harmful prompt source 'file' needs option 'path' (a prompts file)")
    return load_prompts(path, source_name=f"file:{Path(path).name}")
