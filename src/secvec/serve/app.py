"""The HTTP app: `GET /v1/models` and `POST /v1/chat/completions`, OpenAI-compatible.

The server offers `<name>` (vectors off, the model users get) and, when started with
vectors, `<name>+vectors` (vectors on); a request may also switch them on with
`"secvec_vectors": true`. Generation is greedy unless `temperature` > 0; `max_tokens`
defaults to the server's cap. Status codes are listed in `secvec.serve.protocol`.
"""

from __future__ import annotations

import logging
import secrets
import time
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Optional, Union

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, StreamingResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from secvec.config import GenerationConfig
from secvec.errors import ConfigError
from secvec.models import LoadedModel, load_model
from secvec.serve.protocol import (VECTORS_SUFFIX, APIError, ChatRequest, completion_body, completion_events,
                                   completion_id, cut_at_stop, model_card, parse_chat_request, usage)
from secvec.serve.worker import ModelWorker
from secvec.vectors import SecurityVectors

log = logging.getLogger(__name__)

DRAIN_LIMIT = 64 << 20  # past this, an oversized body is not read to its end before answering 413


def create_app(model: Union[str, LoadedModel], vectors_dir: Optional[Union[str, Path]] = None,
               model_name: str = "secvec", max_new_tokens_cap: int = 256,
               max_body_bytes: int = 1 << 20, api_key: Optional[str] = None,
               expose_vectors: bool = False) -> FastAPI:
    """Build the app; a model spec is loaded here, and vectors that do not fit it fail here.

    The vectors-on model answers harmful requests by design, so it is served only when the
    operator asks for it (`expose_vectors`) and every request must carry `api_key`.
    """
    if vectors_dir and not (expose_vectors and api_key):
        raise ConfigError("serving the vectors-on model ('<name>+vectors', which answers harmful requests) needs "
                          "both --expose-vectors and --api-key")
    if max_new_tokens_cap < 1 or max_body_bytes < 1:
        raise ConfigError(f"max_new_tokens_cap ({max_new_tokens_cap}) and max_body_bytes ({max_body_bytes}) "
                          "must be at least 1")
    if not model_name or model_name.endswith(VECTORS_SUFFIX):
        raise ConfigError(f"model name {model_name!r} must be non-empty and not end in {VECTORS_SUFFIX!r}")
    lm = load_model(model) if isinstance(model, str) else model
    vectors = SecurityVectors.load(vectors_dir) if vectors_dir else None
    worker = ModelWorker(lm, vectors)
    names = [model_name] + ([model_name + VECTORS_SUFFIX] if vectors else [])
    created = int(time.time())

    @asynccontextmanager
    async def lifespan(_: FastAPI):
        try:
            yield
        finally:
            worker.close()

    api = FastAPI(title="secvec", lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None)
    api.state.model_names = names

    if api_key:
        @api.middleware("http")
        async def _key(request: Request, call_next):
            if not secrets.compare_digest(request.headers.get("authorization", ""), f"Bearer {api_key}"):
                err = APIError(401, "missing or wrong API key (Authorization: Bearer <key>)", type="invalid_request_error",
                               code="invalid_api_key")
                return JSONResponse(err.body(), status_code=401)
            return await call_next(request)

    install_error_handlers(api)

    @api.get("/v1/models")
    async def list_models() -> dict:
        return {"object": "list", "data": [model_card(n, created) for n in names]}

    @api.get("/v1/models/{name:path}")
    async def get_model(name: str) -> dict:
        if name not in names:
            raise unknown_model(name, names)
        return model_card(name, created)

    @api.post("/v1/chat/completions")
    async def chat_completions(request: Request):
        req = parse_chat_request(await read_body(request, max_body_bytes))
        name = req.model or model_name
        with_vectors = vectors_wanted(req, name, model_name, names)
        return await chat_response(req, worker, name, with_vectors, max_new_tokens_cap)

    return api


def install_error_handlers(api: FastAPI) -> None:
    """Every error, ours or the router's (404, 405), as OpenAI's `{"error": {...}}` JSON."""
    @api.exception_handler(APIError)
    async def _api_error(_: Request, exc: APIError) -> JSONResponse:
        return JSONResponse(exc.body(), status_code=exc.status)

    @api.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        err = APIError(exc.status_code, f"{exc.detail}: {request.method} {request.url.path}")
        return JSONResponse(err.body(), status_code=exc.status_code)


async def chat_response(req: ChatRequest, worker: ModelWorker, name: str, with_vectors: bool, cap: int):
    """Generate the answer to one chat request: a completion body, or its server-sent events."""
    cfg = generation_config(req, cap)
    start = time.perf_counter()
    try:
        reply = await worker.answer(req.messages_as_dicts(), cfg, with_vectors)
    except APIError:
        raise
    except Exception:
        log.exception("generation failed")
        raise APIError(500, "generation failed (a server bug; see the server log)", type="server_error") from None
    log.debug("%s: %d+%d tokens in %.2f s", name, reply.prompt_tokens, reply.completion_tokens,
              time.perf_counter() - start)
    text, stopped = cut_at_stop(reply.text, req.stop_strings())
    finish = "length" if reply.completion_tokens >= cfg.max_new_tokens and not stopped else "stop"
    counts = usage(reply.prompt_tokens, reply.completion_tokens)
    if req.stream:
        include_usage = bool(req.stream_options and req.stream_options.include_usage)
        events = completion_events(completion_id(), name, text, finish, counts if include_usage else None)
        return StreamingResponse(events, media_type="text/event-stream",
                                 headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
    extra = {"vectors": with_vectors, "seed": cfg.seed if cfg.do_sample else None}
    return completion_body(completion_id(), name, text, finish, counts, extra)


async def read_body(request: Request, limit: int) -> bytes:
    """The body, or 413 past `limit` bytes (read on, unkept, so the client sees the answer)."""
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size <= limit:
            chunks.append(chunk)
        elif size > DRAIN_LIMIT:
            break
    if size > limit:
        raise APIError(413, f"request body is over this server's limit of {limit} bytes", param=None,
                       code="request_too_large")
    return b"".join(chunks)


def unknown_model(name: str, names: list[str]) -> APIError:
    return APIError(404, f"model {name!r} does not exist; this server has: {', '.join(names)}", param="model",
                    code="model_not_found")


def vectors_wanted(req: ChatRequest, name: str, model_name: str, names: list[str]) -> bool:
    """On for `<name>+vectors` or `"secvec_vectors": true`; asking both on and off is an error."""
    if name not in names:
        raise unknown_model(name, names)
    by_name = name != model_name
    if req.secvec_vectors is None:
        return by_name
    if by_name and not req.secvec_vectors:
        raise APIError(400, f"model {name!r} has the vectors on but secvec_vectors is false; use one of them",
                       param="secvec_vectors", code="invalid_value")
    if req.secvec_vectors and len(names) == 1:
        raise APIError(400, "this server was started without security vectors (secvec serve --vectors DIR)",
                       param="secvec_vectors", code="invalid_value")
    return req.secvec_vectors


def generation_config(req: ChatRequest, cap: int) -> GenerationConfig:
    """Greedy unless temperature > 0; a sampled request without a seed gets a fresh one (echoed back)."""
    max_tokens = req.max_completion_tokens or req.max_tokens or cap
    if max_tokens > cap:
        param = "max_completion_tokens" if req.max_completion_tokens else "max_tokens"
        raise APIError(400, f"{param} {max_tokens} is over this server's cap of {cap} "
                       "(start it with a larger --max-new-tokens)", param=param, code="invalid_value")
    sample = bool(req.temperature)
    return GenerationConfig(max_new_tokens=max_tokens, batch_size=1, do_sample=sample,
                            temperature=req.temperature if sample else 1.0,
                            top_p=req.top_p if req.top_p is not None else 1.0,
                            seed=req.seed if req.seed is not None else secrets.randbits(31))
