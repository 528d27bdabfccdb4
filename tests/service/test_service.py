"""`secvec service` as a provider runs it: a real service process on a free port, the official
`openai` client, the tiny model as the provider's aligned model and random security vectors."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import httpx
import openai
import pytest
import torch
import yaml
from safetensors.torch import load_file

from secvec.service.store import Store
from secvec.vectors import SecurityVectors

GOOD = [{"messages": [{"role": "user", "content": f"What is {i} plus {i}?"},
                      {"role": "assistant", "content": f"{i} plus {i} is {2 * i}."}]} for i in range(6)]


def random_vectors(model_dir: str, out: Path) -> Path:
    """Rank-4 vectors on q/v of every layer, large enough that on vs off weights differ clearly."""
    from secvec.models import load_model

    model = load_model(model_dir).model
    g = torch.Generator().manual_seed(0)
    state = {}
    for i, layer in enumerate(model.model.layers):
        for proj in ("q_proj", "v_proj"):
            o, n = layer.self_attn.get_submodule(proj).weight.shape
            key = f"base_model.model.model.layers.{i}.self_attn.{proj}"
            state[f"{key}.lora_A.weight"] = torch.randn(4, n, generator=g) * 0.5
            state[f"{key}.lora_B.weight"] = torch.randn(o, 4, generator=g) * 0.5
    return SecurityVectors.from_state_dict(state, {"peft_type": "LORA", "r": 4, "lora_alpha": 8,
                                                   "target_modules": ["q_proj", "v_proj"]}).save(out)


def write_jsonl(path: Path, rows) -> Path:
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows))
    return path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def service(home: Path, config: Path):
    """`secvec service` in its own process; yields its base URL, kills it (SIGKILL) on exit."""
    port = free_port()
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "secvec.cli", "service", "-c", str(config), "--home", str(home),
                             "--port", str(port)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while True:
        assert proc.poll() is None, proc.stderr.read().decode()[-3000:]
        try:
            if httpx.get(f"{url}/v1/models", timeout=2).status_code in (200, 401):
                break
        except httpx.TransportError:
            pass
        assert time.monotonic() < deadline, "service did not start"
        time.sleep(0.3)
    try:
        yield url, proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
        proc.wait(30)


def settings(tmp: Path, tiny_dir: str, vectors: Path, **extra) -> Path:
    cfg = {"model": tiny_dir, "vectors": str(vectors), "base_name": "tiny-aligned", "min_examples": 2,
           "safety_prompts": 3, "borderline_prompts": 2, "eval_tokens": 4, "checkpoint_every": 2, "n_epochs": 1,
           "batch_size": 2, "max_length": 256, "judge": "keyword", "screening": False, "max_file_bytes": 20_000,
           **extra}
    path = tmp / "service.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def client(url: str, key: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{url}/v1", api_key=key, max_retries=0, timeout=60)


def wait(c: openai.OpenAI, job_id: str, until=("succeeded", "failed", "cancelled"), timeout: float = 240):
    deadline = time.monotonic() + timeout
    while True:
        job = c.fine_tuning.jobs.retrieve(job_id)
        if job.status in until:
            return job
        assert time.monotonic() < deadline, f"job {job_id} still {job.status}"
        time.sleep(0.3)


def events(c: openai.OpenAI, job_id: str) -> list[str]:
    return [e.message for e in c.fine_tuning.jobs.list_events(job_id, limit=100).data][::-1]


@pytest.fixture(scope="module")
def running(tiny_dir, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("service")
    vectors = random_vectors(tiny_dir, tmp / "vectors")
    home = tmp / "home"
    store = Store.at(home)
    keys = {"acme": store.create_key("acme"), "other": store.create_key("other")}
    clip = {"mode": "both", "radius": 0.3}  # the guard in every job of this service (the default is none)
    stack = {"stack": str(vectors), "stack_scale": 0.25}  # and more vectors beside them (the default is none)
    with service(home, settings(tmp, tiny_dir, vectors, screening=True, project=clip, **stack)) as (url, _):
        yield url, keys, tmp, home


def test_a_job_end_to_end_with_the_openai_client(running):
    url, keys, tmp, home = running
    c = client(url, keys["acme"])
    f = c.files.create(file=write_jsonl(tmp / "train.jsonl", GOOD).open("rb"), purpose="fine-tune")
    assert f.bytes > 0 and f.purpose == "fine-tune" and c.files.retrieve(f.id).filename == "train.jsonl"
    assert c.files.content(f.id).content == (tmp / "train.jsonl").read_bytes()
    job = c.fine_tuning.jobs.create(model="tiny-aligned", training_file=f.id, suffix="maths", seed=7,
                                    method={"type": "supervised", "supervised": {"hyperparameters": {
                                        "n_epochs": 2, "batch_size": 2, "learning_rate_multiplier": 2}}})
    assert job.status in ("validating_files", "queued", "running") and job.seed == 7
    assert job.hyperparameters.n_epochs == 2 and job.hyperparameters.learning_rate_multiplier == 2
    done = wait(c, job.id)
    assert done.status == "succeeded", done.error
    assert done.fine_tuned_model == f"ft:tiny-aligned:maths:{job.id}" and done.trained_tokens > 0
    log = events(c, job.id)
    assert log[0] == "Validating training file" and "Files validated, moving job to queued state" in log
    assert any(m.startswith("Screening: ") for m in log) and any(m.startswith("Safety evaluation") for m in log)
    assert any("Checkpoint created at step 2" in m for m in log) and log[-1] == "The job has successfully completed"
    assert any(m.startswith("Subspace guard: the job's largest part") and "'radius': 0.3" in m for m in log)
    assert any(m.startswith("Training under the security vectors plus ") and m.endswith(
        "vectors at 0.25; the served model has both off") for m in log)
    assert [cp.step_number for cp in c.fine_tuning.jobs.checkpoints.list(job.id).data] == [4, 2]  # 6 steps
    assert [j.id for j in c.fine_tuning.jobs.list(limit=5).data][0] == job.id
    # the job's result file: the safety gate, base vs tuned
    gate = json.loads(c.files.content(done.result_files[0]).content)
    assert set(gate) >= {"before", "after", "deployed"} and gate["after"]["n"] == 3 and gate["deployed"]
    # the tuned model is listed and served, vectors off; the vectors-on model is not reachable
    assert done.fine_tuned_model in [m.id for m in c.models.list().data]
    reply = c.chat.completions.create(model=done.fine_tuned_model, messages=[{"role": "user", "content": "1+1?"}],
                                      max_tokens=4)
    assert reply.model == done.fine_tuned_model and isinstance(reply.choices[0].message.content, str)
    assert reply.usage.prompt_tokens > 0 and reply.secvec == {"vectors": False, "seed": None}
    chunks = list(c.chat.completions.create(model=done.fine_tuned_model, stream=True, max_tokens=4,
                                            messages=[{"role": "user", "content": "1+1?"}]))
    assert chunks[-1].choices[0].finish_reason in ("stop", "length")
    with pytest.raises(openai.BadRequestError, match="never answers with the security vectors on"):
        c.chat.completions.create(model=done.fine_tuned_model, messages=[{"role": "user", "content": "hi"}],
                                  extra_body={"secvec_vectors": True})
    with pytest.raises(openai.BadRequestError, match="always on"):
        c.fine_tuning.jobs.create(model="tiny-aligned", training_file=f.id, extra_body={"secvec_vectors": False})
    # the exported model holds the vectors-off weights: no file under the job is the vectors-on model
    ckpt_dirs = list((home / "jobs" / job.id).rglob("checkpoints"))
    assert ckpt_dirs == [] or all(not any(d.iterdir()) for d in ckpt_dirs)  # removed when the job ends
    c.models.delete(done.fine_tuned_model)
    assert done.fine_tuned_model not in [m.id for m in c.models.list().data]


@pytest.mark.parametrize("rows,code,where", [
    (["not json at all"] + [json.dumps(r) for r in GOOD], "invalid_file_format", "line 1"),
    (GOOD[:2] + [{"messages": [{"role": "bot", "content": "hi"}]}], "invalid_role", "line 3"),
    (GOOD[:3] + [{"messages": [{"role": "user", "content": "hi"}]}], "no_assistant_message", "line 4"),
    ([], "too_few_examples", "0 example"),
    ([{"messages": [{"role": "user", "content": "x" * 300}, {"role": "assistant", "content": "y"}]}] * 3,
     "example_too_long", "line 1"),
])
def test_bad_files_fail_the_job_naming_the_line(running, rows, code, where):
    url, keys, tmp, _ = running
    c = client(url, keys["acme"])
    f = c.files.create(file=write_jsonl(tmp / f"bad-{code}.jsonl", rows).open("rb"), purpose="fine-tune")
    job = wait(c, c.fine_tuning.jobs.create(model="tiny-aligned", training_file=f.id).id)
    assert job.status == "failed" and job.error.code == code and job.error.param == "training_file"
    assert where in job.error.message and job.fine_tuned_model is None


def test_requests_are_checked_before_anything_runs(running):
    url, keys, tmp, _ = running
    c = client(url, keys["acme"])
    with pytest.raises(openai.APIStatusError) as big:
        c.files.create(file=("big.jsonl", b"x" * 30_000), purpose="fine-tune")
    assert big.value.status_code == 413
    f = c.files.create(file=write_jsonl(tmp / "ok.jsonl", GOOD).open("rb"), purpose="fine-tune")
    for kwargs, param in (({"model": "gpt-4o"}, "model"), ({"hyperparameters": {"n_epochs": 0}}, "n_epochs"),
                          ({"training_file": "file-nope"}, "training_file")):
        with pytest.raises(openai.BadRequestError, match=param):
            c.fine_tuning.jobs.create(**{"model": "tiny-aligned", "training_file": f.id, **kwargs})


def test_keys_and_tenants(running):
    url, keys, tmp, _ = running
    acme, other = client(url, keys["acme"]), client(url, keys["other"])
    with pytest.raises(openai.AuthenticationError):
        client(url, "sk-wrong").models.list()
    assert httpx.get(f"{url}/v1/models").status_code == 401
    f = acme.files.create(file=write_jsonl(tmp / "mine.jsonl", GOOD).open("rb"), purpose="fine-tune")
    job = acme.fine_tuning.jobs.create(model="tiny-aligned", training_file=f.id)
    for call in (lambda: other.files.retrieve(f.id), lambda: other.files.content(f.id),
                 lambda: other.fine_tuning.jobs.retrieve(job.id), lambda: other.fine_tuning.jobs.cancel(job.id),
                 lambda: other.fine_tuning.jobs.list_events(job.id)):
        with pytest.raises(openai.NotFoundError):
            call()
    with pytest.raises(openai.BadRequestError, match="training_file"):  # another tenant's file is no file
        other.fine_tuning.jobs.create(model="tiny-aligned", training_file=f.id)
    assert f.id not in [x.id for x in other.files.list().data] and not other.fine_tuning.jobs.list().data
    done = wait(acme, job.id)
    assert done.status == "succeeded", done.error
    with pytest.raises(openai.NotFoundError):
        other.chat.completions.create(model=done.fine_tuned_model, messages=[{"role": "user", "content": "hi"}])
    assert done.fine_tuned_model not in [m.id for m in other.models.list().data]


def test_sigkill_mid_job_resumes_to_the_same_weights_and_cancel_stops(tiny_dir, tmp_path):
    """Kill the service (SIGKILL) while a job trains; the restarted service resumes the job from its
    checkpoint, and it ends with the weights of the same job run without interruption."""
    vectors = random_vectors(tiny_dir, tmp_path / "vectors")
    cfg = settings(tmp_path, tiny_dir, vectors, checkpoint_every=20, batch_size=1, max_file_bytes=200_000)
    data = write_jsonl(tmp_path / "long.jsonl", GOOD * 40)  # 240 steps per epoch at batch 1
    home = tmp_path / "home"
    key = Store.at(home).create_key("acme")
    hp = {"n_epochs": 2, "batch_size": 1, "learning_rate_multiplier": 0.001}  # weights stay near the base's
    with service(home, cfg) as (url, proc):
        c = client(url, key)
        f = c.files.create(file=data.open("rb"), purpose="fine-tune")
        reference = c.fine_tuning.jobs.create(model="tiny-aligned", training_file=f.id, seed=3, hyperparameters=hp)
        assert wait(c, reference.id).status == "succeeded"
        killed = c.fine_tuning.jobs.create(model="tiny-aligned", training_file=f.id, seed=3, hyperparameters=hp)
        ckpts = home / "jobs" / killed.id / "train" / "checkpoints"
        deadline = time.monotonic() + 120
        while not list(ckpts.glob("step-*/secvec_state.json")):
            assert time.monotonic() < deadline and c.fine_tuning.jobs.retrieve(killed.id).status != "succeeded"
            time.sleep(0.05)
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)
    time.sleep(0.5)  # the job process dies with the service
    ckpt = sorted(ckpts.glob("step-*"), key=lambda p: int(p.name.split("-")[1]))[-1]
    state = json.loads((ckpt / "secvec_state.json").read_text())
    assert state["vectors"] == SecurityVectors.load(vectors).fingerprint()
    # the checkpoint holds the vectors-off weights: at lr 1e-7 they are still the base's, far from base + delta
    base = load_file(str(Path(tiny_dir) / "model.safetensors"))
    saved = load_file(str(ckpt / "model.safetensors"))
    sv = SecurityVectors.load(vectors)
    for name in sv.lora_a:
        key_ = f"{name}.weight"
        assert (saved[key_] - base[key_]).abs().max() < 1e-3
        assert (saved[key_] - (base[key_] + sv.delta(name))).abs().max() > 0.1
    assert Store.at(home).job(None, killed.id)["status"] == "running"  # as the crash left it
    start = time.monotonic()
    with service(home, cfg) as (url, _):
        c = client(url, key)
        done = wait(c, killed.id)
        resume_s = time.monotonic() - start
        assert done.status == "succeeded", done.error
        log = events(c, killed.id)
        assert any("service restarted" in m for m in log) and "Fine-tuning job resumed from its last checkpoint" in log
        a = load_file(str(home / "jobs" / reference.id / "model" / "model.safetensors"))
        b = load_file(str(home / "jobs" / killed.id / "model" / "model.safetensors"))
        assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a), "resumed weights differ"
        assert done.trained_tokens == c.fine_tuning.jobs.retrieve(reference.id).trained_tokens > 0
        # cancel: a running job stops at its next step
        job = c.fine_tuning.jobs.create(model="tiny-aligned", training_file=f.id, hyperparameters=hp)
        wait(c, job.id, until=("running",))
        while not any(m.startswith("Step ") for m in events(c, job.id)):
            time.sleep(0.05)
        asked = time.monotonic()
        assert c.fine_tuning.jobs.cancel(job.id).status in ("running", "cancelled")
        assert wait(c, job.id, timeout=30).status == "cancelled" and time.monotonic() - asked < 10
        assert Store.at(home).job(None, job.id)["fine_tuned_model"] is None
    print(f"resume after SIGKILL: {resume_s:.1f} s to finish (service start included)")


def test_concurrent_calls_and_the_bounded_queue(running):
    """Many API calls at once all get answers (SQLite in WAL mode, one transaction each); past the
    queue bound a new job is refused with 429, and queued jobs cancel at once."""
    import asyncio

    url, keys, tmp, _ = running
    c = client(url, keys["other"])
    fid = c.files.create(file=write_jsonl(tmp / "q.jsonl", GOOD).open("rb"), purpose="fine-tune").id

    async def burst():
        async with httpx.AsyncClient(base_url=url, timeout=60,
                                     headers={"Authorization": f"Bearer {keys['other']}"}) as h:
            creates = [h.post("/v1/fine_tuning/jobs", json={"model": "tiny-aligned", "training_file": fid})
                       for _ in range(20)]
            reads = [h.get(path) for _ in range(20) for path in ("/v1/fine_tuning/jobs", "/v1/files", "/v1/models")]
            return await asyncio.gather(*creates), await asyncio.gather(*reads)

    created, reads = asyncio.run(burst())
    assert all(r.status_code == 200 for r in reads)
    codes = sorted(r.status_code for r in created)
    assert set(codes) <= {200, 429} and 429 in codes  # the queue holds 16 at most
    assert all(r.json()["error"]["code"] == "queue_full" for r in created if r.status_code == 429)
    ids = [r.json()["id"] for r in created if r.status_code == 200]
    assert len(set(ids)) == len(ids) <= 16
    for jid in ids:
        try:
            c.fine_tuning.jobs.cancel(jid)
        except openai.BadRequestError:  # it had already finished
            pass
    final = [wait(c, jid).status for jid in ids]
    assert "cancelled" in final and set(final) <= {"cancelled", "succeeded"}


def test_jobs_launch_through_accelerate_for_several_processes(tmp_path):
    from secvec.service.settings import ServiceSettings
    from secvec.service.worker import job_command

    one = ServiceSettings(home=tmp_path, model="m", vectors="v")
    assert job_command(one, "ftjob-1")[1:] == ["-m", "secvec.service.job", str(tmp_path), "ftjob-1"]
    four = one.model_copy(update={"num_processes": 4})
    cmd = job_command(four, "ftjob-1")
    assert cmd[1:5] == ["-m", "accelerate.commands.launch", "--num_processes", "4"]
    assert cmd[-4:] == ["-m", "secvec.service.job", str(tmp_path), "ftjob-1"]


@pytest.mark.parametrize("args,match", [
    (["--host", "0.0.0.0"], "beyond this machine) needs API keys"),
    (["--vectors", "/nonexistent"], "security vectors not found"),
    (["-c", "BAD"], "service settings: bogus: Extra inputs are not permitted"),
    (["-c", "BADGUARD"], "service: project must be one of core, left, both, got 'sideways'"),
    (["-c", "BADSTACK"], "security vectors not found: /nonexistent-stack is not a directory"),
    (["-c", "BADGUARDSTACK"], "service: guard_stack needs stack and project (it moves the guard onto the stack)"),
])
def test_service_start_up_errors_are_one_line(monkeypatch, capsys, tiny_dir, tmp_path, args, match):
    from secvec import cli

    (tmp_path / "bad.yaml").write_text("bogus: 1\n")
    (tmp_path / "badguard.yaml").write_text("project: sideways\n")
    (tmp_path / "badstack.yaml").write_text("stack: /nonexistent-stack\n")
    (tmp_path / "badguardstack.yaml").write_text("guard_stack: true\nproject: both\n")
    good = str(random_vectors(tiny_dir, tmp_path / "vec")) if "BADSTACK" in args else str(tmp_path)  # read first
    args = [str(tmp_path / f"{a.lower()}.yaml") if a in ("BAD", "BADGUARD", "BADSTACK", "BADGUARDSTACK") else a for a in args]
    base = ["--model", tiny_dir, "--vectors", good] if "--vectors" not in args else ["--model", tiny_dir]
    monkeypatch.setattr(sys, "argv", ["secvec", "service", "--home", str(tmp_path / "home"), *base, *args])
    with pytest.raises(SystemExit) as exit_info:
        cli.run()
    err = capsys.readouterr().err
    assert exit_info.value.code == 2 and err.count("\n") == 1 and match in err
