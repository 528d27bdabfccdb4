"""The fine-tuning service's HTTP API: the subset of OpenAI's that fine-tuning clients use.

    files       POST /v1/files, GET /v1/files[/{id}[/content]], DELETE /v1/files/{id}
    jobs        POST /v1/fine_tuning/jobs, GET .../jobs[/{id}], POST .../{id}/cancel,
                GET .../{id}/events, GET .../{id}/checkpoints
    models      GET /v1/models[/{id}], DELETE /v1/models/{id}, POST /v1/chat/completions

Every job trains with the operator's security vectors on and frozen; no request field turns
them off, and the models served are the jobs' exports (vectors off). Each tenant sees only its
own files, jobs and models: another tenant's id answers 404, as an unknown one does.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections import OrderedDict
from contextlib import asynccontextmanager
from typing import Any, Optional, Union

from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, JSONResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from secvec.serve.app import chat_response, install_error_handlers, read_body
from secvec.serve.protocol import APIError, model_card, parse_chat_request
from secvec.serve.worker import ModelWorker
from secvec.service.settings import ServiceSettings
from secvec.service.store import Store, new_id, now
from secvec.service.validation import FileRejected, Limits, validate_file
from secvec.service.worker import JobWorker

log = logging.getLogger(__name__)

Auto = Union[int, float, str, None]


class Hyperparameters(BaseModel):
    model_config = ConfigDict(extra="forbid")
    n_epochs: Auto = "auto"
    batch_size: Auto = "auto"
    learning_rate_multiplier: Auto = "auto"


class JobRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")  # integrations, metadata, ...: accepted, unused
    model: str
    training_file: str
    validation_file: Optional[str] = None
    hyperparameters: Optional[Hyperparameters] = None
    method: Optional[dict[str, Any]] = None
    suffix: Optional[str] = Field(None, max_length=64)
    seed: Optional[int] = Field(None, ge=0, le=2 ** 31 - 1)


def resolve(hp: Hyperparameters, s: ServiceSettings) -> dict[str, Any]:
    """'auto' (or absent) becomes the operator's default; the rest is range-checked (400 otherwise)."""
    def pick(name: str, value: Auto, default: Any, kind: type, low: float, high: float) -> Any:
        if value in (None, "auto"):
            return default
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= value <= high \
                or (kind is int and value != int(value)):
            raise APIError(400, f"hyperparameters.{name} must be 'auto' or a {kind.__name__} in [{low:g}, {high:g}]",
                           param=f"hyperparameters.{name}", code="invalid_hyperparameters")
        return kind(value)

    return {"n_epochs": pick("n_epochs", hp.n_epochs, s.n_epochs, int, 1, 50),
            "batch_size": pick("batch_size", hp.batch_size, s.batch_size, int, 1, 256),
            "learning_rate_multiplier": pick("learning_rate_multiplier", hp.learning_rate_multiplier, 1.0,
                                             float, 1e-3, 10)}


def job_object(job: dict) -> dict[str, Any]:
    hp = job["hyperparameters"]
    return {"id": job["id"], "object": "fine_tuning.job", "created_at": job["created_at"],
            "finished_at": job["finished_at"], "model": job["model"], "fine_tuned_model": job["fine_tuned_model"],
            "organization_id": job["tenant_id"], "status": job["status"], "hyperparameters": hp,
            "method": {"type": "supervised", "supervised": {"hyperparameters": hp}},
            "training_file": job["training_file"], "validation_file": job["validation_file"],
            "result_files": job["result_files"], "trained_tokens": job["trained_tokens"], "error": job["error"],
            "seed": job["seed"], "suffix": job["suffix"], "estimated_finish": None, "integrations": [],
            "user_provided_suffix": job["suffix"], "metadata": None, "secvec": job["secvec"]}


def file_object(f: dict) -> dict[str, Any]:
    return {"id": f["id"], "object": "file", "bytes": f["bytes"], "created_at": f["created_at"],
            "filename": f["filename"], "purpose": f["purpose"], "status": "processed", "expires_at": None,
            "status_details": None}


def page(rows: list[dict], more: bool) -> dict[str, Any]:
    return {"object": "list", "data": rows, "has_more": more,
            "first_id": rows[0]["id"] if rows else None, "last_id": rows[-1]["id"] if rows else None}


def not_found(kind: str, id_: str) -> APIError:
    return APIError(404, f"no {kind} {id_!r}", param="id", code=f"{kind}_not_found")


def found(kind: str, id_: str, row: Optional[dict]) -> dict:
    """The caller's row, or 404: another tenant's id answers as an unknown one does."""
    if row is None:
        raise not_found(kind, id_)
    return row


class ModelCache:
    """Loaded chat models (base and fine-tuned), the least recently used dropped past `size`."""

    def __init__(self, size: int = 2) -> None:
        self.size, self.workers = size, OrderedDict()
        self.lock = asyncio.Lock()

    async def get(self, path: str) -> ModelWorker:
        from secvec.models import load_model

        async with self.lock:
            if path in self.workers:
                self.workers.move_to_end(path)
                return self.workers[path]
            worker = ModelWorker(await asyncio.to_thread(load_model, path))
            self.workers[path] = worker
            while len(self.workers) > self.size:
                self.workers.popitem(last=False)[1].close()
            return worker

    def close(self) -> None:
        for w in self.workers.values():
            w.close()


def create_service_app(settings: ServiceSettings, open_access: bool = False, run_worker: bool = True,
                       request_timeout_s: float = 120.0, max_new_tokens_cap: int = 256) -> FastAPI:
    """The service app. `open_access`: no keys exist and the service listens on loopback only, so
    every request is the single 'local' tenant's; otherwise each request needs a tenant's key."""
    from secvec.models.loading import load_tokenizer
    from secvec.models.loading import resolve as model_dir

    settings.save()
    store = Store.at(settings.home)
    vectors_hash = settings.job_vectors()[0].fingerprint()  # a bad vectors (or stack) dir fails at start-up
    tokenizer = load_tokenizer(model_dir(settings.model))  # for token limits; the weights load where they are used
    limits = Limits(settings.max_file_bytes, settings.min_examples, settings.max_examples, settings.max_length)
    worker = JobWorker(settings, store)
    models = ModelCache()
    local = store.open_tenant() if open_access else None

    @asynccontextmanager
    async def lifespan(_: FastAPI):
        if run_worker:
            requeued = worker.start()
            if requeued:
                log.warning("re-queued %d job(s) a previous run left running: %s", len(requeued), ", ".join(requeued))
        try:
            yield
        finally:
            if run_worker:
                await asyncio.to_thread(worker.stop)
            models.close()

    api = FastAPI(title="secvec fine-tuning service", lifespan=lifespan, docs_url=None, redoc_url=None,
                  openapi_url=None)
    api.state.store, api.state.settings = store, settings

    @api.middleware("http")
    async def _limits(request: Request, call_next):
        try:
            return await asyncio.wait_for(call_next(request), request_timeout_s)
        except asyncio.TimeoutError:
            err = APIError(504, f"the request took over {request_timeout_s:g} s", type="server_error", code="timeout")
            return JSONResponse(err.body(), status_code=504)

    install_error_handlers(api)

    def tenant(request: Request) -> str:
        if local is not None:
            return local
        auth = request.headers.get("authorization", "")
        key = auth[7:] if auth.startswith("Bearer ") else ""
        found = store.tenant_of(key) if key else None
        if found is None:
            raise APIError(401, "missing or unknown API key (Authorization: Bearer <key>; keys are made with "
                                "`secvec service key create`)", code="invalid_api_key")
        return found

    # -- files
    @api.post("/v1/files")
    async def upload(request: Request) -> dict:
        who = tenant(request)
        declared = int(request.headers.get("content-length") or 0)
        if declared > settings.max_file_bytes + (64 << 10):  # refuse before reading a body this large
            raise APIError(413, f"the file is over the limit of {settings.max_file_bytes} bytes", param="file",
                           code="file_too_large")
        form = await request.form(max_part_size=settings.max_file_bytes)
        upload, purpose = form.get("file"), form.get("purpose")
        if purpose != "fine-tune":
            raise APIError(400, f"purpose {purpose!r} is not supported here; use 'fine-tune'", param="purpose",
                           code="invalid_purpose")
        if upload is None or isinstance(upload, str):
            raise APIError(400, "no file part named 'file' in the multipart body", param="file", code="missing_file")
        fid = new_id("file")
        path = settings.file_path(fid)
        path.parent.mkdir(parents=True, exist_ok=True)
        data = await upload.read()
        if len(data) > settings.max_file_bytes:
            raise APIError(413, f"the file is over the limit of {settings.max_file_bytes} bytes", param="file",
                           code="file_too_large")
        path.write_bytes(data)
        return file_object(store.add_file(who, upload.filename or "upload.jsonl", purpose, path, len(data), fid))

    @api.get("/v1/files")
    async def list_files(request: Request, purpose: Optional[str] = None) -> dict:
        return page([file_object(f) for f in store.list_files(tenant(request), purpose)], False)

    def own_file(request: Request, fid: str) -> dict:
        return found("file", fid, store.file(tenant(request), fid))

    @api.get("/v1/files/{fid}")
    async def get_file(request: Request, fid: str) -> dict:
        return file_object(own_file(request, fid))

    @api.get("/v1/files/{fid}/content")
    async def file_content(request: Request, fid: str):
        return FileResponse(own_file(request, fid)["path"], media_type="application/octet-stream")

    @api.delete("/v1/files/{fid}")
    async def delete_file(request: Request, fid: str) -> dict:
        if not store.delete_file(tenant(request), fid):
            raise not_found("file", fid)
        return {"id": fid, "object": "file", "deleted": True}

    # -- jobs
    @api.post("/v1/fine_tuning/jobs")
    async def create_job(request: Request) -> dict:
        who = tenant(request)
        body = await read_body(request, 1 << 20)
        try:
            req = JobRequest.model_validate_json(body)
        except ValidationError as e:
            first = e.errors(include_url=False)[0]
            param = ".".join(str(p) for p in first["loc"]) or None
            raise APIError(400, f"{param or 'request body'}: {first['msg']}", param=param,
                           code="invalid_request") from None
        if any("vector" in k.lower() for k in _keys(body)):
            raise APIError(400, "the security vectors are always on in this service; no field changes them",
                           param="secvec", code="invalid_request")
        if req.model != settings.base_name:
            raise APIError(400, f"model {req.model!r} cannot be fine-tuned here; the base model is "
                                f"{settings.base_name!r}", param="model", code="model_not_available")
        hp = req.hyperparameters
        supervised = ((req.method or {}).get("supervised") or {}).get("hyperparameters")
        if supervised is not None:
            try:
                hp = Hyperparameters.model_validate(supervised)
            except ValidationError as e:
                raise APIError(400, f"method.supervised.hyperparameters: {e.errors()[0]['msg']}",
                               param="method.supervised.hyperparameters", code="invalid_hyperparameters") from None
        for param, fid in (("training_file", req.training_file), ("validation_file", req.validation_file)):
            if fid is not None and store.file(who, fid) is None:
                raise APIError(400, f"{param} {fid!r} does not exist", param=param, code="invalid_file")
        if store.count_active() >= settings.max_queue:
            raise APIError(429, f"the queue is full ({settings.max_queue} jobs); try again later",
                           type="rate_limit_error", code="queue_full")
        job = store.create_job(who, model=req.model, training_file=req.training_file,
                               validation_file=req.validation_file,
                               hyperparameters=resolve(hp or Hyperparameters(), settings), suffix=req.suffix,
                               seed=req.seed if req.seed is not None else random.randrange(2 ** 31),
                               vectors_hash=vectors_hash)
        store.add_event(job["id"], "Validating training file")
        asyncio.get_running_loop().run_in_executor(None, validate_job, job)
        return job_object(job)

    def validate_job(job: dict) -> None:
        """validating_files -> queued, or failed with the first problem and its line."""
        try:
            for param in ("training_file", "validation_file"):
                if job[param]:
                    validate_file(settings.file_path(job[param]), param, limits, tokenizer)
        except FileRejected as e:
            store.set_job(job["id"], only_if=("validating_files",), status="failed", error=e.error, finished_at=now())
            store.add_event(job["id"], f"Validation failed: {e.error['message']}", "error")
            return
        except Exception as e:  # noqa: BLE001 - never leave a job stuck in validating_files
            log.exception("validating %s", job["id"])
            store.set_job(job["id"], only_if=("validating_files",), status="failed", finished_at=now(),
                          error={"code": "validation_error", "param": None, "message": str(e)})
            return
        if store.set_job(job["id"], only_if=("validating_files",), status="queued"):
            store.add_event(job["id"], "Files validated, moving job to queued state")

    def own_job(request: Request, jid: str) -> dict:
        return found("fine_tuning_job", jid, store.job(tenant(request), jid))

    @api.get("/v1/fine_tuning/jobs")
    async def list_jobs(request: Request, after: Optional[str] = None, limit: int = 20) -> dict:
        rows, more = store.list_jobs(tenant(request), after, max(1, min(limit, 100)))
        return page([job_object(j) for j in rows], more)

    @api.get("/v1/fine_tuning/jobs/{jid}")
    async def get_job(request: Request, jid: str) -> dict:
        return job_object(own_job(request, jid))

    @api.post("/v1/fine_tuning/jobs/{jid}/cancel")
    async def cancel_job(request: Request, jid: str) -> dict:
        job = own_job(request, jid)
        if store.set_job(jid, only_if=("validating_files", "queued"), status="cancelled", finished_at=now()):
            store.add_event(jid, "Fine-tuning job cancelled")
        elif job["status"] == "running":
            store.set_job(jid, cancel_requested=True)
            store.add_event(jid, "Cancellation requested: the job stops at its next step")
        else:
            raise APIError(400, f"job {jid} is already {job['status']}", param="id", code="invalid_state")
        return job_object(store.job(None, jid))

    @api.get("/v1/fine_tuning/jobs/{jid}/events")
    async def job_events(request: Request, jid: str, after: Optional[str] = None, limit: int = 20) -> dict:
        own_job(request, jid)
        rows, more = store.list_events(jid, after, max(1, min(limit, 100)))
        return page([{"id": e["id"], "object": "fine_tuning.job.event", "created_at": e["created_at"],
                      "level": e["level"], "message": e["message"], "data": e["data"],
                      "type": "metrics" if e["data"] and "train_loss" in e["data"] else "message"}
                     for e in rows], more)

    @api.get("/v1/fine_tuning/jobs/{jid}/checkpoints")
    async def job_checkpoints(request: Request, jid: str, after: Optional[str] = None, limit: int = 10) -> dict:
        job = own_job(request, jid)
        rows = store.list_checkpoints(jid)
        if after:
            ids = [c["id"] for c in rows]
            rows = rows[ids.index(after) + 1:] if after in ids else rows
        limit = max(1, min(limit, 100))
        return page([{"id": c["id"], "object": "fine_tuning.job.checkpoint", "created_at": c["created_at"],
                      "fine_tuning_job_id": jid, "step_number": c["step"], "metrics": c["metrics"],
                      "fine_tuned_model_checkpoint": f"ft:{job['model']}:{job['suffix'] or 'secvec'}:{jid}:"
                                                     f"ckpt-step-{c['step']}"}
                     for c in rows[:limit]], len(rows) > limit)

    # -- models and chat
    @api.get("/v1/models")
    async def list_models(request: Request) -> dict:
        own = store.list_models(tenant(request))
        return {"object": "list", "data": [model_card(settings.base_name, 0)] +
                [{**model_card(m["id"], m["created_at"]), "owned_by": m["tenant_id"]} for m in own]}

    @api.get("/v1/models/{mid:path}")
    async def get_model(request: Request, mid: str) -> dict:
        who = tenant(request)
        if mid == settings.base_name:
            return model_card(mid, 0)
        m = store.model(who, mid)
        if m is None:
            raise not_found("model", mid)
        return {**model_card(m["id"], m["created_at"]), "owned_by": m["tenant_id"]}

    @api.delete("/v1/models/{mid:path}")
    async def delete_model(request: Request, mid: str) -> dict:
        if mid == settings.base_name:
            raise APIError(403, "the base model cannot be deleted", param="model", code="forbidden")
        if not store.delete_model(tenant(request), mid):
            raise not_found("model", mid)
        return {"id": mid, "object": "model", "deleted": True}

    @api.post("/v1/chat/completions")
    async def chat(request: Request):
        who = tenant(request)
        req = parse_chat_request(await read_body(request, 1 << 20))
        if req.secvec_vectors:
            raise APIError(400, "this service never answers with the security vectors on", param="secvec_vectors",
                           code="invalid_value")
        name = req.model or settings.base_name
        if name == settings.base_name:
            path = settings.model
        else:
            m = store.model(who, name)
            if m is None:
                raise not_found("model", name)
            if not m["deployed"]:
                raise APIError(403, f"model {name} is not deployed: {m['reason']}", param="model",
                               code="model_not_deployed")
            path = m["path"]
        return await chat_response(req, await models.get(path), name, False, max_new_tokens_cap)

    return api


def _keys(body: bytes) -> list[str]:
    """Every object key in a JSON body, at any depth."""
    import json

    out: list[str] = []

    def walk(x: Any) -> None:
        if isinstance(x, dict):
            out.extend(map(str, x))
            for v in x.values():
                walk(v)
        elif isinstance(x, list):
            for v in x:
                walk(v)

    walk(json.loads(body))
    return out

