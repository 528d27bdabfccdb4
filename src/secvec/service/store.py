"""The service's state: tenants and their keys, files, jobs, events, checkpoints, models.

SQLAlchemy Core over a declared schema, one transaction per operation, so the same code runs
on SQLite (the default, WAL mode so the API reads while the job process writes) and on a server
database (`--database postgresql://...`). Files' bytes live on disk under the data folder; the
database holds their metadata. API keys are stored as SHA-256 hashes, never in clear.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import time
import uuid
from pathlib import Path
from typing import Any, Optional

from sqlalchemy import (JSON, Boolean, Column, ForeignKey, Integer, MetaData, String, Table, Text,
                        create_engine, event, insert, select, update)
from sqlalchemy.engine import Engine

metadata = MetaData()

tenants = Table(
    "tenants", metadata,
    Column("id", String, primary_key=True),
    Column("name", String, nullable=False, unique=True),
    Column("created_at", Integer, nullable=False))

keys = Table(
    "api_keys", metadata,
    Column("hash", String, primary_key=True),
    Column("tenant_id", String, ForeignKey("tenants.id"), nullable=False),
    Column("prefix", String, nullable=False),  # first characters, to tell keys apart in listings
    Column("created_at", Integer, nullable=False))

files = Table(
    "files", metadata,
    Column("id", String, primary_key=True),
    Column("tenant_id", String, ForeignKey("tenants.id"), nullable=False, index=True),
    Column("filename", String, nullable=False),
    Column("purpose", String, nullable=False),
    Column("bytes", Integer, nullable=False),
    Column("path", Text, nullable=False),
    Column("created_at", Integer, nullable=False),
    Column("deleted", Boolean, nullable=False, default=False))

jobs = Table(
    "jobs", metadata,
    Column("id", String, primary_key=True),
    Column("seq", Integer, nullable=False, index=True),  # creation order (created_at has 1 s resolution)
    Column("tenant_id", String, ForeignKey("tenants.id"), nullable=False, index=True),
    Column("model", String, nullable=False),
    Column("training_file", String, nullable=False),
    Column("validation_file", String),
    Column("hyperparameters", JSON, nullable=False),
    Column("suffix", String),
    Column("seed", Integer, nullable=False),
    Column("status", String, nullable=False, index=True),
    Column("error", JSON),
    Column("fine_tuned_model", String),
    Column("result_files", JSON, nullable=False),
    Column("trained_tokens", Integer),
    Column("vectors_hash", String, nullable=False),
    Column("cancel_requested", Boolean, nullable=False, default=False),
    Column("created_at", Integer, nullable=False),
    Column("started_at", Integer),
    Column("finished_at", Integer),
    Column("secvec", JSON, nullable=False))  # screening, safety gate, deployment: what OpenAI has no field for

events = Table(
    "events", metadata,
    Column("seq", Integer, primary_key=True, autoincrement=True),
    Column("id", String, nullable=False, unique=True),
    Column("job_id", String, ForeignKey("jobs.id"), nullable=False, index=True),
    Column("created_at", Integer, nullable=False),
    Column("level", String, nullable=False),
    Column("message", Text, nullable=False),
    Column("data", JSON))

checkpoints = Table(
    "checkpoints", metadata,
    Column("id", String, primary_key=True),
    Column("job_id", String, ForeignKey("jobs.id"), nullable=False, index=True),
    Column("step", Integer, nullable=False),
    Column("metrics", JSON, nullable=False),
    Column("created_at", Integer, nullable=False))

models = Table(
    "models", metadata,
    Column("id", String, primary_key=True),
    Column("tenant_id", String, ForeignKey("tenants.id"), nullable=False, index=True),
    Column("job_id", String, ForeignKey("jobs.id"), nullable=False),
    Column("path", Text, nullable=False),
    Column("deployed", Boolean, nullable=False),
    Column("reason", Text),
    Column("created_at", Integer, nullable=False),
    Column("deleted", Boolean, nullable=False, default=False))

ACTIVE = ("validating_files", "queued", "running")


def now() -> int:
    return int(time.time())


def new_id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:24]}"


def key_hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


class Store:
    """All reads and writes of the service's state; each method is one transaction."""

    def __init__(self, url: str) -> None:
        self.engine: Engine = create_engine(url, connect_args={"timeout": 30} if url.startswith("sqlite") else {})
        if url.startswith("sqlite"):
            @event.listens_for(self.engine, "connect")
            def _sqlite(conn, _record) -> None:  # readers do not block the writer; writers wait, not fail
                conn.execute("PRAGMA journal_mode=WAL")
                conn.execute("PRAGMA busy_timeout=30000")
                conn.execute("PRAGMA foreign_keys=ON")
        metadata.create_all(self.engine)

    @classmethod
    def at(cls, home: Path) -> "Store":
        home.mkdir(parents=True, exist_ok=True)
        return cls(f"sqlite:///{home / 'service.db'}")

    # -- tenants and keys
    def create_key(self, tenant: str) -> str:
        """A new key for `tenant` (made on first use); the key is returned once and stored hashed."""
        key = "sk-secvec-" + secrets.token_urlsafe(24)
        with self.engine.begin() as c:
            tid = c.execute(select(tenants.c.id).where(tenants.c.name == tenant)).scalar()
            if tid is None:
                tid = new_id("tenant")
                c.execute(insert(tenants).values(id=tid, name=tenant, created_at=now()))
            c.execute(insert(keys).values(hash=key_hash(key), tenant_id=tid, prefix=key[:14], created_at=now()))
        return key

    def has_keys(self) -> bool:
        with self.engine.connect() as c:
            return c.execute(select(keys.c.hash).limit(1)).first() is not None

    def tenant_of(self, key: str) -> Optional[str]:
        with self.engine.connect() as c:
            return c.execute(select(keys.c.tenant_id).where(keys.c.hash == key_hash(key))).scalar()

    def open_tenant(self) -> str:
        """The single tenant of a loopback service that has no keys."""
        with self.engine.begin() as c:
            tid = c.execute(select(tenants.c.id).where(tenants.c.name == "local")).scalar()
            if tid is None:
                tid = new_id("tenant")
                c.execute(insert(tenants).values(id=tid, name="local", created_at=now()))
            return tid

    # -- files
    def add_file(self, tenant: str, filename: str, purpose: str, path: Path, size: int, fid: str) -> dict:
        row = dict(id=fid, tenant_id=tenant, filename=filename, purpose=purpose, bytes=size, path=str(path),
                   created_at=now(), deleted=False)
        with self.engine.begin() as c:
            c.execute(insert(files).values(**row))
        return row

    def file(self, tenant: Optional[str], fid: str) -> Optional[dict]:
        q = select(files).where(files.c.id == fid, files.c.deleted.is_(False))
        if tenant is not None:
            q = q.where(files.c.tenant_id == tenant)
        with self.engine.connect() as c:
            row = c.execute(q).mappings().first()
        return dict(row) if row else None

    def list_files(self, tenant: str, purpose: Optional[str] = None) -> list[dict]:
        q = select(files).where(files.c.tenant_id == tenant, files.c.deleted.is_(False))
        if purpose:
            q = q.where(files.c.purpose == purpose)
        with self.engine.connect() as c:
            return [dict(r) for r in c.execute(q.order_by(files.c.created_at.desc())).mappings()]

    def delete_file(self, tenant: str, fid: str) -> bool:
        with self.engine.begin() as c:
            return c.execute(update(files).where(files.c.id == fid, files.c.tenant_id == tenant,
                                                 files.c.deleted.is_(False)).values(deleted=True)).rowcount > 0

    # -- jobs
    def create_job(self, tenant: str, **fields: Any) -> dict:
        with self.engine.begin() as c:
            seq = (c.execute(select(jobs.c.seq).order_by(jobs.c.seq.desc()).limit(1)).scalar() or 0) + 1
            row = dict(id=new_id("ftjob"), seq=seq, tenant_id=tenant, status="validating_files", error=None,
                       fine_tuned_model=None, result_files=[], trained_tokens=None, cancel_requested=False,
                       created_at=now(), started_at=None, finished_at=None, secvec={}, **fields)
            c.execute(insert(jobs).values(**row))
        return row

    def job(self, tenant: Optional[str], jid: str) -> Optional[dict]:
        q = select(jobs).where(jobs.c.id == jid)
        if tenant is not None:
            q = q.where(jobs.c.tenant_id == tenant)
        with self.engine.connect() as c:
            row = c.execute(q).mappings().first()
        return dict(row) if row else None

    def list_jobs(self, tenant: str, after: Optional[str], limit: int) -> tuple[list[dict], bool]:
        """Newest first; `after` is a job id: the page starts below it (OpenAI's cursor)."""
        q = select(jobs).where(jobs.c.tenant_id == tenant)
        if after:
            cursor = self.job(tenant, after)
            if cursor:
                q = q.where(jobs.c.seq < cursor["seq"])
        with self.engine.connect() as c:
            rows = [dict(r) for r in c.execute(q.order_by(jobs.c.seq.desc()).limit(limit + 1)).mappings()]
        return rows[:limit], len(rows) > limit

    def count_active(self) -> int:
        with self.engine.connect() as c:
            return len(c.execute(select(jobs.c.id).where(jobs.c.status.in_(ACTIVE))).all())

    def set_job(self, jid: str, only_if: Optional[tuple[str, ...]] = None, **fields: Any) -> bool:
        """Update a job; with `only_if`, only while its status is one of those (a compare-and-set)."""
        q = update(jobs).where(jobs.c.id == jid)
        if only_if:
            q = q.where(jobs.c.status.in_(only_if))
        with self.engine.begin() as c:
            return c.execute(q.values(**fields)).rowcount > 0

    def merge_secvec(self, jid: str, **fields: Any) -> None:
        with self.engine.begin() as c:
            cur = c.execute(select(jobs.c.secvec).where(jobs.c.id == jid)).scalar() or {}
            c.execute(update(jobs).where(jobs.c.id == jid).values(secvec={**cur, **fields}))

    def next_queued(self) -> Optional[dict]:
        """Claim the oldest queued job (queued -> running), or None."""
        with self.engine.connect() as c:
            ids = c.execute(select(jobs.c.id).where(jobs.c.status == "queued").order_by(jobs.c.seq)).scalars().all()
        for jid in ids:
            if self.set_job(jid, only_if=("queued",), status="running", started_at=now()):
                return self.job(None, jid)
        return None

    def requeue_running(self) -> list[str]:
        """After a crash: jobs left 'running' go back to the queue (they resume from their checkpoint)."""
        with self.engine.connect() as c:
            ids = c.execute(select(jobs.c.id).where(jobs.c.status == "running")).scalars().all()
        for jid in ids:
            self.set_job(jid, only_if=("running",), status="queued")
            self.add_event(jid, "service restarted: the job goes back to the queue and resumes from its last "
                                "checkpoint", level="warn")
        return list(ids)

    # -- events and checkpoints
    def add_event(self, jid: str, message: str, level: str = "info", data: Optional[dict] = None) -> None:
        with self.engine.begin() as c:
            c.execute(insert(events).values(id=new_id("ftevent"), job_id=jid, created_at=now(), level=level,
                                            message=message, data=json.loads(json.dumps(data)) if data else None))

    def list_events(self, jid: str, after: Optional[str], limit: int) -> tuple[list[dict], bool]:
        q = select(events).where(events.c.job_id == jid)
        with self.engine.connect() as c:
            if after:
                seq = c.execute(select(events.c.seq).where(events.c.id == after)).scalar()
                if seq is not None:
                    q = q.where(events.c.seq < seq)
            rows = [dict(r) for r in c.execute(q.order_by(events.c.seq.desc()).limit(limit + 1)).mappings()]
        return rows[:limit], len(rows) > limit

    def add_checkpoint(self, jid: str, step: int, metrics: dict) -> None:
        with self.engine.begin() as c:
            c.execute(insert(checkpoints).values(id=new_id("ftckpt"), job_id=jid, step=step, metrics=metrics,
                                                 created_at=now()))

    def list_checkpoints(self, jid: str) -> list[dict]:
        with self.engine.connect() as c:
            q = select(checkpoints).where(checkpoints.c.job_id == jid).order_by(checkpoints.c.step.desc())
            return [dict(r) for r in c.execute(q).mappings()]

    # -- models
    def add_model(self, mid: str, tenant: str, jid: str, path: Path, deployed: bool, reason: Optional[str]) -> None:
        with self.engine.begin() as c:
            c.execute(insert(models).values(id=mid, tenant_id=tenant, job_id=jid, path=str(path), deployed=deployed,
                                            reason=reason, created_at=now(), deleted=False))

    def model(self, tenant: str, mid: str) -> Optional[dict]:
        q = select(models).where(models.c.id == mid, models.c.tenant_id == tenant, models.c.deleted.is_(False))
        with self.engine.connect() as c:
            row = c.execute(q).mappings().first()
        return dict(row) if row else None

    def list_models(self, tenant: str) -> list[dict]:
        q = select(models).where(models.c.tenant_id == tenant, models.c.deleted.is_(False))
        with self.engine.connect() as c:
            return [dict(r) for r in c.execute(q.order_by(models.c.created_at)).mappings()]

    def delete_model(self, tenant: str, mid: str) -> bool:
        with self.engine.begin() as c:
            return c.execute(update(models).where(models.c.id == mid, models.c.tenant_id == tenant,
                                                  models.c.deleted.is_(False)).values(deleted=True)).rowcount > 0

