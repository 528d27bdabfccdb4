"""The one example schema every stage consumes.

A training example is a chat: a list of `{"role", "content"}` messages ending with an
assistant turn (loss is taken on assistant turns only). A prompt (for evaluation and for
synthesis) is a user request with an optional system prompt and a harm category.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

ROLES = ("system", "user", "assistant")


@dataclass(frozen=True)
class Prompt:
    text: str
    category: str = "uncategorized"
    source: str = ""
    system: str | None = None

    def messages(self) -> list[dict[str, str]]:
        head = [{"role": "system", "content": self.system}] if self.system else []
        return head + [{"role": "user", "content": self.text}]


@dataclass
class Example:
    messages: list[dict[str, str]]
    category: str = "uncategorized"
    source: str = ""
    meta: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_pair(
        cls,
        prompt: str,
        response: str,
        system: str | None = None,
        category: str = "uncategorized",
        source: str = "",
    ) -> "Example":
        head = [{"role": "system", "content": system}] if system else []
        return cls(
            head + [{"role": "user", "content": prompt}, {"role": "assistant", "content": response}],
            category=category,
            source=source,
        )

    @property
    def prompt(self) -> str:
        return next(m["content"] for m in reversed(self.messages) if m["role"] == "user")

    @property
    def response(self) -> str:
        return self.messages[-1]["content"]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def check_messages(messages: Any) -> str | None:
    """Why `messages` is not a valid training chat, or None when it is."""
    if not isinstance(messages, list) or not messages:
        return "'messages' must be a non-empty list"
    for i, m in enumerate(messages):
        if not isinstance(m, dict) or "role" not in m or "content" not in m:
            return f"message {i} needs 'role' and 'content'"
        if m["role"] not in ROLES:
            return f"message {i} has unknown role {m['role']!r} (use one of {', '.join(ROLES)})"
        if not isinstance(m["content"], str):
            return f"message {i} content must be a string"
        if m["role"] == "system" and i != 0:
            return f"message {i}: a system message may only come first"
    if messages[-1]["role"] != "assistant":
        return "the last message must be from the assistant (it is what the model learns)"
    if not any(m["role"] == "user" for m in messages):
        return "there is no user message"
    return None
