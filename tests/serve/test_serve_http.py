"""The OpenAI-compatible endpoint over real HTTP: uvicorn in a thread on a free port, httpx."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from contextlib import contextmanager

import httpx
import pytest
import torch
import uvicorn

from secvec.errors import ConfigError, ModelError
from secvec.models.loading import load_model
from secvec.serve import create_app
from secvec.vectors import SecurityVectors

CAP = 12
KEY = "sk-test-serve"
BODY_LIMIT = 8192
HELLO = [{"role": "user", "content": "hello there"}]


def random_vectors(model: torch.nn.Module, layers: int | None = None, seed: int = 0) -> SecurityVectors:
    """Vectors with nonzero random B, so switching them on surely changes greedy answers."""
    g = torch.Generator().manual_seed(seed)
    state = {}
    for i in range(layers if layers is not None else len(model.model.layers)):
        for proj in ("q_proj", "v_proj"):
            out_features, in_features = model.model.layers[0].self_attn.get_submodule(proj).weight.shape
            key = f"base_model.model.model.layers.{i}.self_attn.{proj}"
            state[f"{key}.lora_A.weight"] = torch.randn(4, in_features, generator=g) * 0.5
            state[f"{key}.lora_B.weight"] = torch.randn(out_features, 4, generator=g) * 0.5
    return SecurityVectors.from_state_dict(state, {"peft_type": "LORA", "r": 4, "lora_alpha": 8,
                                                   "target_modules": ["q_proj", "v_proj"]})


@contextmanager
def running(app):
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "server did not start"
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


@pytest.fixture(scope="module")
def served(tiny_dir, tmp_path_factory):
    lm = load_model(tiny_dir)
    vectors_dir = random_vectors(lm.model).save(tmp_path_factory.mktemp("vectors"))
    app = create_app(lm, vectors_dir=vectors_dir, model_name="tiny", max_new_tokens_cap=CAP,
                     max_body_bytes=BODY_LIMIT, api_key=KEY, expose_vectors=True)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # the tiny model is fastest on one thread, and CI cores may be busy
    try:
        with running(app) as url:
            yield url, lm
    finally:
        torch.set_num_threads(threads)


@pytest.fixture
def client(served):
    with httpx.Client(base_url=served[0], timeout=30, headers={"Authorization": f"Bearer {KEY}"}) as c:
        yield c


def test_a_server_with_vectors_needs_the_key_and_the_flag(served, tiny, tmp_path):
    with httpx.Client(base_url=served[0], timeout=30) as c:
        for headers in ({}, {"Authorization": "Bearer wrong"}):
            r = c.get("/v1/models", headers=headers)
            assert r.status_code == 401 and r.json()["error"]["code"] == "invalid_api_key"
    vec = random_vectors(tiny.model).save(tmp_path / "vec")
    for kwargs in ({}, {"api_key": KEY}, {"expose_vectors": True}):
        with pytest.raises(ConfigError, match="--expose-vectors and --api-key"):
            create_app(tiny, vectors_dir=vec, **kwargs)


def chat(client, messages=HELLO, **fields) -> httpx.Response:
    return client.post("/v1/chat/completions", json={"messages": messages, "max_tokens": 8, **fields})


def content(response: httpx.Response) -> str:
    assert response.status_code == 200, response.text
    return response.json()["choices"][0]["message"]["content"]


def test_models_lists_base_and_vectors(client):
    assert [m["id"] for m in client.get("/v1/models").json()["data"]] == ["tiny", "tiny+vectors"]
    assert client.get("/v1/models/tiny+vectors").json()["id"] == "tiny+vectors"
    assert client.get("/v1/models/gpt-4").status_code == 404


def plain_greedy(lm, messages, max_new_tokens):
    """The new tokens, up to (not including) the first end-of-turn, of a batch-of-one greedy `generate`."""
    tok = lm.tokenizer
    enc = tok(tok.apply_chat_template(messages, tokenize=False, add_generation_prompt=True), return_tensors="pt",
              add_special_tokens=False)
    with torch.no_grad():
        out = lm.model.generate(**enc, max_new_tokens=max_new_tokens, do_sample=False,
                                pad_token_id=tok.pad_token_id)[0, enc["input_ids"].shape[1]:]
    stop = (out == tok.eos_token_id).nonzero()
    return out[: int(stop[0])] if len(stop) else out


def test_chat_completion_answers(served, client):
    r = chat(client, model="tiny")
    body = r.json()
    assert r.status_code == 200 and body["object"] == "chat.completion" and body["model"] == "tiny"
    choice = body["choices"][0]
    assert choice["message"]["role"] == "assistant" and isinstance(choice["message"]["content"], str)
    assert choice["finish_reason"] in ("stop", "length")
    # greedy, as a plain batch-of-one transformers call on the served model gives it
    new = plain_greedy(served[1], HELLO, 8)
    assert choice["message"]["content"] == served[1].tokenizer.decode(new, skip_special_tokens=True).strip()
    # byte-level tokenizer: the ChatML wrapping of one user turn adds 19 tokens to its 11 bytes
    assert body["usage"] == {"prompt_tokens": 11 + 19, "completion_tokens": len(new), "total_tokens": 30 + len(new)}
    assert len(new) == 8 and choice["finish_reason"] == "length"  # a random model does not stop in 8 tokens
    assert body["secvec"] == {"vectors": False, "seed": None}


def test_vectors_change_answers_and_leave_base_weights_exact(served, client):
    lm = served[1]
    before = {k: v.clone() for k, v in lm.model.state_dict().items()}
    off = content(chat(client, model="tiny"))
    on = content(chat(client, model="tiny+vectors"))
    assert on != off
    assert content(chat(client, model="tiny", secvec_vectors=True)) == on
    assert content(chat(client)) == off  # no model: the base, vectors off
    assert all(torch.equal(before[k], v) for k, v in lm.model.state_dict().items())


def test_stream_sends_sse_chunks_ending_with_done(client):
    expected = content(chat(client, model="tiny+vectors"))
    with client.stream("POST", "/v1/chat/completions",
                       json={"messages": HELLO, "max_tokens": 8, "model": "tiny+vectors", "stream": True,
                             "stream_options": {"include_usage": True}}) as r:
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
        lines = [line for line in r.iter_lines() if line]
    assert all(line.startswith("data: ") for line in lines) and lines[-1] == "data: [DONE]"
    chunks = [json.loads(line[len("data: "):]) for line in lines[:-1]]
    assert all(c["object"] == "chat.completion.chunk" for c in chunks)
    text = "".join(c["choices"][0]["delta"].get("content", "") for c in chunks if c["choices"])
    assert text == expected
    assert chunks[-2]["choices"][0]["finish_reason"] in ("stop", "length")
    unstreamed = chat(client, model="tiny+vectors").json()
    assert chunks[-1]["usage"] == unstreamed["usage"] and unstreamed["usage"]["completion_tokens"] == 8


def test_sampling_is_reproducible_with_a_seed(client):
    a, b = (chat(client, temperature=1.0, top_p=0.9, seed=3) for _ in range(2))
    assert content(a) == content(b) and a.json()["secvec"]["seed"] == 3


@pytest.mark.parametrize("body, status, param", [
    (b"{not json", 400, None),
    (b"", 400, None),
    (b"[1, 2]", 422, None),
    (b'{"model": "tiny"}', 422, "messages"),
    (b'{"messages": []}', 422, "messages"),
    (b'{"messages": [{"role": "wizard", "content": "hi"}]}', 422, "messages[0].role"),
    (b'{"messages": [{"role": "user"}]}', 422, "messages[0].content"),
    (b'{"messages": [{"role": "user", "content": "hi"}], "max_tokens": "5"}', 422, "max_tokens"),
    (b'{"messages": [{"role": "user", "content": "hi"}], "model": "gpt-4"}', 404, "model"),
    (b'{"messages": [{"role": "user", "content": "hi"}], "max_tokens": 13}', 400, "max_tokens"),
    (b'{"messages": [{"role": "user", "content": "hi"}], "model": "tiny+vectors", "secvec_vectors": false}',
     400, "secvec_vectors"),
    (json.dumps({"messages": [{"role": "user", "content": "x" * 600}]}).encode(), 400, "messages"),
])
def test_bad_requests_get_openai_errors(client, body, status, param):
    r = client.post("/v1/chat/completions", content=body, headers={"content-type": "application/json"})
    assert r.status_code == status, r.text
    error = r.json()["error"]
    assert set(error) == {"message", "type", "param", "code"} and error["message"] and error["param"] == param


def test_oversized_bodies_get_413_and_the_server_keeps_serving(client):
    big = json.dumps({"messages": [{"role": "user", "content": "x" * BODY_LIMIT}]}).encode()
    assert client.post("/v1/chat/completions", content=big).status_code == 413
    chunked = client.post("/v1/chat/completions", content=iter([big[:4000], big[4000:]]))
    assert chunked.status_code == 413 and chunked.json()["error"]["code"] == "request_too_large"
    assert client.get("/nowhere").json()["error"]["message"]
    assert client.get("/v1/chat/completions").status_code == 405
    assert content(chat(client))


def test_twenty_concurrent_requests_all_answered_as_if_alone(served, client):
    cases = [(f"question {i % 3}", i % 2 == 1) for i in range(20)]

    def payload(question, vectors):
        return {"messages": [{"role": "user", "content": question}], "max_tokens": 4,
                "model": "tiny+vectors" if vectors else "tiny"}

    async def all_at_once():
        async with httpx.AsyncClient(base_url=served[0], timeout=60, headers={"Authorization": f"Bearer {KEY}"}) as c:
            return await asyncio.gather(*(c.post("/v1/chat/completions", json=payload(*case)) for case in cases))

    answers = [content(r) for r in asyncio.run(all_at_once())]
    alone = {case: content(client.post("/v1/chat/completions", json=payload(*case))) for case in set(cases)}
    assert answers == [alone[case] for case in cases] and len(set(answers)) > 1


def test_vectors_that_do_not_fit_fail_at_startup(tiny, tmp_path):
    vectors = random_vectors(tiny.model, layers=3)  # the tiny model has 2 layers
    with pytest.raises(ModelError, match="no module"):
        create_app(tiny, vectors_dir=vectors.save(tmp_path / "vec"), api_key=KEY, expose_vectors=True)


def test_server_without_vectors_refuses_them(tiny):
    with running(create_app(tiny, model_name="tiny", max_new_tokens_cap=CAP)) as url, \
            httpx.Client(base_url=url, timeout=30) as c:
        assert [m["id"] for m in c.get("/v1/models").json()["data"]] == ["tiny"]
        assert chat(c, model="tiny+vectors").status_code == 404
        assert chat(c, secvec_vectors=True).json()["error"]["param"] == "secvec_vectors"
        assert content(chat(c, secvec_vectors=False))
