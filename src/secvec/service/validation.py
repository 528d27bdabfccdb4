"""Training-file checks before a job is queued, as hosted fine-tuning services make them.

Every problem names its line, and comes back as OpenAI's job `error` object (`code`, `param`,
`message`) so a client sees why its job failed without reading a server log.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

from secvec.data.schema import ROLES, Example


@dataclass
class Limits:
    max_bytes: int = 50 << 20
    min_examples: int = 10
    max_examples: int = 50_000
    max_tokens: int = 2048  # per example, chat template included


class FileRejected(Exception):
    def __init__(self, code: str, param: str, message: str) -> None:
        super().__init__(message)
        self.error = {"code": code, "param": param, "message": message}


def validate_file(path: Path, param: str, limits: Limits, tokenizer: Any = None) -> list[Example]:
    """The file's examples, or `FileRejected` naming the first problem and its line."""
    def reject(code: str, message: str) -> FileRejected:
        return FileRejected(code, param, f"{param}: {message}")

    size = path.stat().st_size
    if size > limits.max_bytes:
        raise reject("file_too_large", f"the file is {size} bytes; the limit is {limits.max_bytes}")
    examples = []
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError:
        raise reject("invalid_file_format", "the file is not UTF-8 text (JSONL expected)") from None
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as e:
            raise reject("invalid_file_format", f"line {n} is not JSON ({e.msg}); each line must be "
                                                '{"messages": [...]}') from None
        problem = _check_record(record)
        if problem:
            raise reject(problem[0], f"line {n}: {problem[1]}")
        if tokenizer is not None:
            tokens = _count_tokens(tokenizer, record["messages"])
            if tokens > limits.max_tokens:
                raise reject("example_too_long", f"line {n}: {tokens} tokens; the limit is {limits.max_tokens}")
        examples.append(Example([{"role": m["role"], "content": m["content"]} for m in record["messages"]],
                                source=path.name))
        if len(examples) > limits.max_examples:
            raise reject("too_many_examples", f"more than {limits.max_examples} examples")
    if len(examples) < limits.min_examples:
        raise reject("too_few_examples", f"{len(examples)} example(s); at least {limits.min_examples} are needed")
    return examples


def _check_record(record: Any) -> Optional[tuple[str, str]]:
    if not isinstance(record, dict) or "messages" not in record:
        return "invalid_file_format", 'each line must be an object with a "messages" list'
    messages = record["messages"]
    if not isinstance(messages, list) or not messages:
        return "invalid_file_format", '"messages" must be a non-empty list'
    for i, m in enumerate(messages):
        if not isinstance(m, dict) or m.get("role") not in ROLES:
            role = m.get("role") if isinstance(m, dict) else None
            return "invalid_role", f"message {i} has role {role!r}; roles are {', '.join(ROLES)}"
        if not isinstance(m.get("content"), str):
            return "invalid_content", f"message {i} content must be a string"
    if not any(m["role"] == "assistant" for m in messages):
        return "no_assistant_message", "no assistant message (nothing to learn from)"
    return None


def _count_tokens(tokenizer: Any, messages: list[dict]) -> int:
    from jinja2 import TemplateError

    from secvec.models.chat import render

    try:
        text = render(tokenizer, messages, add_generation_prompt=False)
    except TemplateError as e:
        raise FileRejected("invalid_messages", "training_file", f"the model's chat template rejects: {e}") from None
    return len(tokenizer(text, add_special_tokens=False)["input_ids"])
