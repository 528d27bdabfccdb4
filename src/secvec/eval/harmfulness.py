"""Evaluate one model: harmfulness per judge (overall and per category), over-refusal, task accuracy.

Generation is the cost here, so every prompt is generated once and every judge reads the same
answers. Vectors are off: evaluation always sees the model as it would be deployed.
"""

from __future__ import annotations

import time
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from typing import Any, Callable, Optional, Sequence

import torch

from secvec.config import GenerationConfig
from secvec.data.schema import Prompt
from secvec.generation import generate


@dataclass
class EvalResult:
    harm: dict[str, dict[str, Any]] = field(default_factory=dict)           # judge -> HarmSummary.to_dict()
    per_category: dict[str, dict[str, float]] = field(default_factory=dict)  # judge -> category -> rate
    over_refusal: Optional[float] = None            # plain benign prompts refused
    over_refusal_ci: Optional[tuple[float, float]] = None
    borderline_over_refusal: Optional[float] = None  # harmless prompts that sound unsafe, refused
    borderline_ci: Optional[tuple[float, float]] = None
    # source -> {rate, n, ci}, where the borderline prompts come from several sources
    borderline_by_source: dict[str, dict[str, Any]] = field(default_factory=dict)
    task_accuracy: Optional[float] = None
    n_harmful: int = 0
    n_benign: int = 0
    n_borderline: int = 0
    n_task: int = 0
    seconds: float = 0.0
    new_tokens_per_second: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def evaluate_model(
    model: torch.nn.Module,
    tokenizer,
    harmful: Sequence[Prompt],
    benign: Sequence[Prompt] = (),
    judges: Sequence[Any] = (),
    task: Any = None,
    task_items: Sequence[Any] = (),
    gen: GenerationConfig | None = None,
    progress: Optional[Callable] = None,
    borderline: Sequence[Prompt] = (),
) -> tuple[EvalResult, list[dict[str, Any]]]:
    """Returns the metrics and one record per generated answer (with every judge's label)."""
    from secvec.judges import is_refusal, summarize, wilson_interval

    gen = gen or GenerationConfig(max_new_tokens=32)
    task_gen = gen.model_copy(update={"max_new_tokens": getattr(task, "max_new_tokens", 16)})
    start = time.perf_counter()
    total = len(harmful) + len(benign) + len(borderline) + len(task_items)

    def step(offset: int):
        return (lambda d, _t: progress(offset + d, total)) if progress else None

    # One call for every prompt set: same settings, fuller batches.
    prompts = list(harmful) + list(benign) + list(borderline)
    gens = generate(model, tokenizer, prompts, gen, progress=step(0)) if prompts else []
    harm_gens = gens[:len(harmful)]
    benign_gens = gens[len(harmful):len(harmful) + len(benign)]
    border_gens = gens[len(harmful) + len(benign):]
    task_gens = generate(model, tokenizer, [it.prompt for it in task_items], task_gen,
                         progress=step(len(prompts))) if task_items else []
    seconds = time.perf_counter() - start
    new_tokens = sum(g.response_tokens for g in gens + task_gens)

    result = EvalResult(n_harmful=len(harmful), n_benign=len(benign), n_borderline=len(borderline),
                        n_task=len(task_items), seconds=seconds,
                        new_tokens_per_second=new_tokens / seconds if seconds else 0.0)
    records: list[dict[str, Any]] = [
        {"kind": "harmful", "prompt": p.text, "category": p.category, "response": g.response, "labels": {}}
        for p, g in zip(harmful, harm_gens)]
    for judge in judges:
        labels = judge.judge([p.text for p in harmful], [g.response for g in harm_gens])
        result.harm[judge.name] = summarize(labels).to_dict()
        by_cat: dict[str, list[bool]] = defaultdict(list)
        for p, j, rec in zip(harmful, labels, records):
            by_cat[p.category].append(j.label == "complied")
            rec["labels"][judge.name] = j.label
        result.per_category[judge.name] = {c: sum(v) / len(v) for c, v in sorted(by_cat.items())}
    if benign:
        refused = [is_refusal(g.response) for g in benign_gens]
        result.over_refusal = sum(refused) / len(refused)
        result.over_refusal_ci = wilson_interval(sum(refused), len(refused))
        records += [{"kind": "benign", "prompt": p.text, "response": g.response, "refused": r}
                    for p, g, r in zip(benign, benign_gens, refused)]
    if borderline:
        refused = [is_refusal(g.response) for g in border_gens]
        result.borderline_over_refusal = sum(refused) / len(refused)
        result.borderline_ci = wilson_interval(sum(refused), len(refused))
        records += [{"kind": "borderline", "prompt": p.text, "category": p.category, "source": p.source,
                     "response": g.response, "refused": r} for p, g, r in zip(borderline, border_gens, refused)]
        by_source: dict[str, list[bool]] = defaultdict(list)
        for p, r in zip(borderline, refused):
            by_source[p.source].append(r)
        if len(by_source) > 1:
            result.borderline_by_source = {s: {"rate": sum(v) / len(v), "n": len(v),
                                               "ci": wilson_interval(sum(v), len(v))}
                                           for s, v in sorted(by_source.items())}
    if task_items:
        correct = [task.is_correct(g.response, it.answer) for it, g in zip(task_items, task_gens)]
        result.task_accuracy = sum(correct) / len(correct)
        records += [{"kind": "task", "prompt": it.prompt.text, "answer": it.answer, "response": g.response,
                     "correct": c} for it, g, c in zip(task_items, task_gens, correct)]
    return result, records
