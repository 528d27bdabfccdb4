"""Read examples and prompts from JSONL, JSON, CSV, a saved `datasets` directory, or a list.

Accepted record shapes: `{"messages": [...]}` (chat), or `{"prompt": ..., "response": ...}`
(also `instruction`/`output`, `question`/`answer`), each with optional `category`, `system`
and `prefill` (the start of the answer, given to the model and not learned). Every problem is
reported as a `DataError` naming the file, the line and what is wrong, and nothing is dropped
silently: one bad record fails the load.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any, Iterable, Iterator, Sequence

from secvec.data.schema import Example, Prompt, check_messages
from secvec.errors import DataError

PAIR_KEYS = (("prompt", "response"), ("instruction", "output"), ("question", "answer"))
PROMPT_KEYS = ("prompt", "goal", "instruction", "question", "text")


def read_records(path: Path) -> Iterator[tuple[str, Any]]:
    """Yield (where, record) from a JSONL/JSON/CSV file or datasets dir; `where` = 'file:line' for
    error messages. Missing, empty or malformed files raise DataError naming the place."""
    if not path.exists():
        raise DataError(f"{path}: file not found")
    if path.is_dir():
        yield from _dataset_dir_records(path)
        return
    suffix = path.suffix.lower()
    text = path.read_text(encoding="utf-8")
    if not text.strip():
        raise DataError(f"{path}: file is empty")
    if suffix == ".jsonl":
        for n, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            try:
                yield f"{path}:{n}", json.loads(line)
            except json.JSONDecodeError as e:
                raise DataError(f"{path}:{n}: bad JSON ({e.msg})") from None
    elif suffix == ".json":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as e:
            raise DataError(f"{path}:{e.lineno}: bad JSON ({e.msg})") from None
        if not isinstance(data, list):
            raise DataError(f"{path}: a .json data file must hold a list of records")
        for n, rec in enumerate(data):
            yield f"{path}[{n}]", rec
    elif suffix in (".csv", ".tsv"):
        reader = csv.DictReader(text.splitlines(), delimiter="\t" if suffix == ".tsv" else ",")
        for n, rec in enumerate(reader, 2):
            yield f"{path}:{n}", rec
    else:
        raise DataError(f"{path}: unsupported file type {suffix!r} (use .jsonl, .json, .csv or a datasets directory)")


def _dataset_dir_records(path: Path) -> Iterator[tuple[str, Any]]:
    import datasets

    try:
        ds = datasets.load_from_disk(str(path))
    except Exception as e:  # datasets raises several types for "not a dataset dir"
        raise DataError(f"{path}: not a saved datasets directory ({e})") from None
    if isinstance(ds, datasets.DatasetDict):
        ds = ds["train"] if "train" in ds else next(iter(ds.values()))
    for n, rec in enumerate(ds):
        yield f"{path}[{n}]", rec


def _example(where: str, rec: Any) -> Example:
    if isinstance(rec, Example):
        return rec
    if not isinstance(rec, dict):
        raise DataError(f"{where}: record must be an object, got {type(rec).__name__}")
    category = str(rec.get("category") or "uncategorized")
    if "messages" in rec:
        messages = rec["messages"]
        if isinstance(messages, str):
            try:
                messages = json.loads(messages)
            except json.JSONDecodeError:
                raise DataError(f"{where}: 'messages' is a string that is not JSON") from None
        problem = check_messages(messages)
        if problem:
            raise DataError(f"{where}: {problem}")
        msgs = [{"role": m["role"], "content": m["content"]} for m in messages]
        return _with_prefill(where, rec, Example(msgs, category=category, source=str(rec.get("source") or "")))
    for p, r in PAIR_KEYS:
        if p in rec and r in rec:
            if not isinstance(rec[p], str) or not rec[p].strip():
                raise DataError(f"{where}: '{p}' is empty")
            if not isinstance(rec[r], str) or not rec[r].strip():
                raise DataError(f"{where}: '{r}' is empty")
            return _with_prefill(where, rec, Example.from_pair(rec[p], rec[r], system=rec.get("system") or None,
                                                               category=category, source=str(rec.get("source") or "")))
    raise DataError(f"{where}: needs 'messages' or a prompt/response pair; found keys {sorted(rec)}")


def _with_prefill(where: str, rec: dict, ex: Example) -> Example:
    """An optional 'prefill': the start of the answer, given to the model and not learned."""
    prefill = rec.get("prefill")
    if prefill is None:
        return ex
    if not isinstance(prefill, str) or not ex.response.startswith(prefill):
        raise DataError(f"{where}: 'prefill' must be the start of the answer")
    ex.meta["prefill"] = prefill
    return ex


def load_examples(source: str | Path | Sequence[Any]) -> list[Example]:
    """Training examples from a path or an in-memory list (dicts or `Example`s)."""
    if isinstance(source, (str, Path)):
        items: Iterable[tuple[str, Any]] = read_records(Path(source))
        name = str(source)
    else:
        items = ((f"item {i}", rec) for i, rec in enumerate(source))
        name = "the given list"
    examples = [_example(where, rec) for where, rec in items]
    if not examples:
        raise DataError(f"{name}: no examples")
    return examples


def load_prompts(source: str | Path | Sequence[Any], source_name: str = "") -> list[Prompt]:
    """Prompts (for evaluation or synthesis) from a path or list of strings/dicts."""
    if isinstance(source, (str, Path)):
        path = Path(source)
        if path.suffix.lower() == ".txt":
            if not path.exists():
                raise DataError(f"{path}: file not found")
            lines = [ln.strip() for ln in path.read_text(encoding="utf-8").splitlines() if ln.strip()]
            items: Iterable[tuple[str, Any]] = ((f"{path}:{n}", ln) for n, ln in enumerate(lines, 1))
        else:
            items = read_records(path)
        name = str(path)
    else:
        items = ((f"item {i}", rec) for i, rec in enumerate(source))
        name = "the given list"
    prompts = [_prompt(where, rec, source_name or name) for where, rec in items]
    if not prompts:
        raise DataError(f"{name}: no prompts")
    return prompts


def _prompt(where: str, rec: Any, source: str) -> Prompt:
    if isinstance(rec, Prompt):
        return rec
    if isinstance(rec, str):
        if not rec.strip():
            raise DataError(f"{where}: empty prompt")
        return Prompt(rec.strip(), source=source)
    if isinstance(rec, dict):
        for key in PROMPT_KEYS:
            if isinstance(rec.get(key), str) and rec[key].strip():
                return Prompt(rec[key].strip(), category=str(rec.get("category") or "uncategorized"),
                              source=source, system=rec.get("system") or None)
        if "messages" in rec and isinstance(rec["messages"], list):
            users = [m.get("content", "") for m in rec["messages"] if isinstance(m, dict) and m.get("role") == "user"]
            if users:
                return Prompt(users[-1], category=str(rec.get("category") or "uncategorized"), source=source)
    raise DataError(f"{where}: needs a prompt (one of {', '.join(PROMPT_KEYS)})")


def write_examples(path: str | Path, examples: Iterable[Example]) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as f:
        for ex in examples:
            prefill = {"prefill": ex.meta["prefill"]} if ex.meta.get("prefill") else {}
            record = {"messages": ex.messages, "category": ex.category, "source": ex.source, **prefill}
            f.write(json.dumps(record) + "\n")
