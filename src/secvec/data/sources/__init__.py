"""Harmful prompt sources by name: `harmful_prompts("jbb")`, `available_sources()`.

A new source is one module here that registers itself on `HARMFUL_SOURCES`, plus one import
line below.
"""

from secvec.data.sources.base import HARMFUL_SOURCES, available_sources, harmful_prompts

from secvec.data.sources import donotanswer, file, harmbench, jbb  # noqa: F401,E402  (register)
from secvec.data.sources.jbb import jbb_targets  # noqa: E402

__all__ = ["HARMFUL_SOURCES", "available_sources", "harmful_prompts", "jbb_targets"]
