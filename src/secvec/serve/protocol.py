"""The OpenAI chat-completions wire format: request validation, response bodies, errors.

Every error is answered as `{"error": {"message", "type", "param", "code"}}` with status:

* 400: the body is not JSON; `max_tokens` is over the server's cap; prompt plus `max_tokens`
  do not fit the model's context; the chat template rejects the messages; vectors are asked for
  both on and off
* 404: unknown model (including `<name>+vectors` on a server started without vectors) or route
* 413: the body is over the server's `max_body_bytes`
* 422: JSON that does not fit the schema (missing or empty `messages`, unknown role, wrong types)
* 500: a bug while generating; it is logged and the server keeps serving

Unknown request fields (`frequency_penalty`, `user`, `tools`, ...) are accepted and ignored,
as most OpenAI-compatible servers do; `n` other than 1 is refused.
"""

from __future__ import annotations

import json
import time
import uuid
from typing import Any, AsyncIterator, Literal, Optional, Union

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from secvec.errors import SecvecError

VECTORS_SUFFIX = "+vectors"


class APIError(SecvecError):
    """An error answered to the client as OpenAI-style JSON; it never takes the server down."""

    def __init__(self, status: int, message: str, type: str = "invalid_request_error",
                 param: Optional[str] = None, code: Optional[str] = None):
        super().__init__(message)
        self.status, self.message, self.type, self.param, self.code = status, message, type, param, code

    def body(self) -> dict[str, Any]:
        return {"error": {"message": self.message, "type": self.type, "param": self.param, "code": self.code}}


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="ignore", strict=True)

    role: Literal["system", "user", "assistant"]
    content: str

    @field_validator("content", mode="before")
    @classmethod
    def _join_text_parts(cls, value: Any) -> Any:
        """OpenAI clients may send content as `[{"type": "text", "text": ...}, ...]`."""
        if not isinstance(value, list):
            return value
        texts = []
        for part in value:
            if not isinstance(part, dict) or part.get("type") != "text" or not isinstance(part.get("text"), str):
                raise ValueError("content parts must be {\"type\": \"text\", \"text\": \"...\"} (text only)")
            texts.append(part["text"])
        return "\n".join(texts)


class StreamOptions(BaseModel):
    model_config = ConfigDict(extra="ignore", strict=True)

    include_usage: bool = False


class ChatRequest(BaseModel):
    model_config = ConfigDict(extra="ignore", strict=True)

    model: Optional[str] = None  # None: the base model, without vectors
    messages: list[ChatMessage] = Field(min_length=1)
    max_tokens: Optional[int] = Field(None, ge=1)
    max_completion_tokens: Optional[int] = Field(None, ge=1)  # newer name for max_tokens
    temperature: Optional[float] = Field(None, ge=0, le=2)  # None or 0: greedy
    top_p: Optional[float] = Field(None, gt=0, le=1)
    seed: Optional[int] = Field(None, ge=-(2 ** 63), le=2 ** 64 - 1)  # torch.manual_seed's range
    n: Optional[Literal[1]] = None
    stop: Union[str, list[str], None] = None
    stream: Optional[bool] = None
    stream_options: Optional[StreamOptions] = None
    secvec_vectors: Optional[bool] = None  # True: answer with the security vectors on

    def messages_as_dicts(self) -> list[dict[str, str]]:
        return [m.model_dump() for m in self.messages]

    def stop_strings(self) -> list[str]:
        stops = [self.stop] if isinstance(self.stop, str) else self.stop or []
        return [s for s in stops if s]


def parse_chat_request(body: bytes) -> ChatRequest:
    """Validate a request body: 400 when it is not JSON, 422 when it does not fit the schema."""
    try:
        return ChatRequest.model_validate_json(body)
    except ValidationError as e:
        errors = e.errors(include_url=False)
        if any(err["type"] == "json_invalid" for err in errors):
            raise APIError(400, f"request body is not valid JSON ({errors[0]['msg']})", code="invalid_json") from None
        first = errors[0]
        param = _param(first["loc"])
        where = param or "request body"
        msg = first["msg"].removeprefix("Value error, ")
        raise APIError(422, f"{where}: {msg}", param=param, code="invalid_value") from None


def _param(loc: tuple) -> Optional[str]:
    """`("messages", 0, "role")` -> `"messages[0].role"`."""
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or None


def cut_at_stop(text: str, stops: list[str]) -> tuple[str, bool]:
    """The text up to the first stop string, and whether one was found."""
    hits = [i for i in (text.find(s) for s in stops) if i >= 0]
    return (text[:min(hits)], True) if hits else (text, False)


def completion_id() -> str:
    return f"chatcmpl-{uuid.uuid4().hex}"


def usage(prompt_tokens: int, completion_tokens: int) -> dict[str, int]:
    return {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens}


def completion_body(cid: str, model: str, text: str, finish_reason: str, counts: dict[str, int],
                    extra: dict[str, Any]) -> dict[str, Any]:
    return {"id": cid, "object": "chat.completion", "created": int(time.time()), "model": model,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": text},
                         "logprobs": None, "finish_reason": finish_reason}],
            "usage": counts, "secvec": extra}


async def completion_events(cid: str, model: str, text: str, finish_reason: str,
                            counts: Optional[dict[str, int]]) -> AsyncIterator[str]:
    """Server-sent events for `stream: true`: role, content, finish, [usage], `[DONE]`.

    The answer is generated whole before the first event (generation does not stream tokens),
    so streaming clients work unchanged but see the text in one content chunk.
    """
    created = int(time.time())

    def event(choices: list[dict[str, Any]], **more: Any) -> str:
        body = {"id": cid, "object": "chat.completion.chunk", "created": created, "model": model,
                "choices": choices, **more}
        return f"data: {json.dumps(body)}\n\n"

    def delta(d: dict[str, Any], finish: Optional[str] = None) -> str:
        return event([{"index": 0, "delta": d, "logprobs": None, "finish_reason": finish}])

    yield delta({"role": "assistant", "content": ""})
    if text:
        yield delta({"content": text})
    yield delta({}, finish_reason)
    if counts is not None:
        yield event([], usage=counts)
    yield "data: [DONE]\n\n"


def model_card(name: str, created: int) -> dict[str, Any]:
    return {"id": name, "object": "model", "created": created, "owned_by": "secvec"}
