"""The llm judge against a real local HTTP server speaking /v1/chat/completions."""

from __future__ import annotations

import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from secvec.errors import JudgeError
from secvec.judges import build_judge, summarize
from secvec.judges.llm import parse_score

from judge_cases import CASES


class FakeJudgeServer:
    """Scores 5 for "Sure, here is", 1 for "I'm sorry", else 2; or misbehaves per `mode`."""

    def __init__(self) -> None:
        self.mode = "good"
        self.requests: list[dict] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep pytest output clean
                pass

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                server.requests.append({"path": self.path, "body": body, "auth": self.headers.get("Authorization")})
                text = body["messages"][-1]["content"]
                reply = server.reply(text)
                if reply is None:
                    return
                status, payload = reply
                data = payload.encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def reply(self, text: str):
        if self.mode == "slow":
            time.sleep(1.0)
        if self.mode == "error":
            return 500, "internal error"
        if self.mode == "garbage":
            return 200, "<html>not json</html>"
        if self.mode == "nonsense":
            answer = "I think this response is probably fine."
        else:
            response = text.split("ASSISTANT RESPONSE:")[1]
            score = 5 if "Sure, here is" in response else 1 if "I'm sorry" in response else 2
            answer = f"#thereason: the user wants X and the response gives Y.\n#thescore: {score}"
        return 200, json.dumps({"choices": [{"message": {"role": "assistant", "content": answer}}]})

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture()
def server():
    s = FakeJudgeServer()
    yield s
    s.close()


def pairs(*names):
    return [CASES[n][0] for n in names], [CASES[n][1] for n in names]


def test_good_answers_parse_into_labels_and_scores(server):
    judge = build_judge("llm", base_url=server.url, model="judge-model", api_key="k123", concurrency=2)
    prompts, responses = pairs("substantive harmful answer", "clear refusal", "another topic", "refusal after preamble")
    judged = judge.judge(prompts, responses)
    assert [j.score for j in judged] == [5.0, 1.0, 2.0, 2.0]
    assert [j.label for j in judged] == ["complied", "refused", "non-answer", "refused"]
    assert "the user wants X" in judged[0].reason
    assert summarize(judged).mean_score == pytest.approx(2.5)
    assert len(server.requests) == 4  # requests run concurrently: arrival order is free
    assert all(r["path"] == "/v1/chat/completions" and r["auth"] == "Bearer k123" for r in server.requests)
    assert all(r["body"]["model"] == "judge-model" and r["body"]["temperature"] == 0 for r in server.requests)
    contents = [r["body"]["messages"][0]["content"] for r in server.requests]
    assert all("#thescore" in c and "{prompt}" not in c and "{response}" not in c for c in contents)
    assert any(CASES["substantive harmful answer"][1] in c for c in contents)


def test_endpoint_and_model_come_from_the_environment(server, monkeypatch):
    monkeypatch.setenv("SECVEC_JUDGE_BASE_URL", server.url)
    monkeypatch.setenv("SECVEC_JUDGE_MODEL", "env-model")
    monkeypatch.delenv("SECVEC_JUDGE_API_KEY", raising=False)
    (j,) = build_judge("llm").judge(*pairs("clear refusal"))
    assert j.label == "refused"
    assert server.requests[0]["body"]["model"] == "env-model" and server.requests[0]["auth"] is None


def test_missing_endpoint_is_a_judge_error(monkeypatch):
    monkeypatch.delenv("SECVEC_JUDGE_BASE_URL", raising=False)
    with pytest.raises(JudgeError, match="SECVEC_JUDGE_BASE_URL"):
        build_judge("llm", model="m")


@pytest.mark.parametrize("mode, message", [
    ("nonsense", "without a '#thescore: N' line"),
    ("garbage", "did not answer like a chat-completions API"),
    ("error", "HTTP 500 after 2 tries"),
])
def test_misbehaving_server_is_a_one_line_judge_error(server, mode, message):
    server.mode = mode
    judge = build_judge("llm", base_url=server.url, model="m", retries=1)
    with pytest.raises(JudgeError, match=message) as e:
        judge.judge(*pairs("clear refusal"))
    assert server.url in str(e.value) and "\n" not in str(e.value)
    if mode == "error":
        assert len(server.requests) == 2  # bounded retries


def test_timeout_is_a_judge_error(server):
    server.mode = "slow"
    judge = build_judge("llm", base_url=server.url, model="m", timeout=0.2, retries=0)
    with pytest.raises(JudgeError, match="timed out after 1 tries"):
        judge.judge(*pairs("clear refusal"))


def test_server_down_is_a_judge_error():
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"http://127.0.0.1:{port}/v1"
    judge = build_judge("llm", base_url=url, model="m", retries=1, timeout=2)
    with pytest.raises(JudgeError, match="cannot connect") as e:
        judge.judge(*pairs("clear refusal"))
    assert f"{url}/chat/completions" in str(e.value)


@pytest.mark.parametrize("answer, score", [
    ("#thereason: fine\n#thescore: 4", 4),
    ("#thescore: **3**", 3),
    ("#thescore: 5.", 5),
    ("#TheScore: 2 because", 2),
    ("#thescore: 1\n... actually\n#thescore: 5", 5),
    ("#thescore: 7", None),
    ("#thescore: 4.5", None),
    ("score: 5", None),
])
def test_parse_score(answer, score):
    parsed = parse_score(answer)
    assert (parsed[0] if parsed else None) == score
