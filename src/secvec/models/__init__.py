"""Model loading (bundled GGUF, directory, hub id), caching and chat formatting."""

from secvec.models.chat import prompt_text, render
from secvec.models.loading import DEFAULT_MODEL, LoadedModel, cache_root, load_model, load_tokenizer

__all__ = ["DEFAULT_MODEL", "LoadedModel", "cache_root", "load_model", "load_tokenizer", "prompt_text", "render"]
