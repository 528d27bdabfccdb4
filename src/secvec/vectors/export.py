"""Export the fine-tuned model with the vectors off: a merged safetensors model or the task adapter.

After protected fine-tuning the vectors are already off (their delta was subtracted, or their
adapter deleted), so export only has to decide what to write.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import torch

from secvec.errors import ModelError
from secvec.vectors.core import ADAPTER_NAME


def export_model(model: torch.nn.Module, tokenizer, output_dir: str | Path,
                 what: Literal["merged", "adapter"] = "merged") -> Path:
    from peft import PeftModel

    out = Path(output_dir)
    out.mkdir(parents=True, exist_ok=True)
    if isinstance(model, PeftModel):
        if ADAPTER_NAME in model.peft_config:
            raise ModelError("refusing to export: the security vectors are still loaded in this model")
        if what == "adapter":
            model.save_pretrained(out)
            tokenizer.save_pretrained(out)
            return out
        model = model.merge_and_unload()
    elif what == "adapter":
        raise ModelError("this model was fully fine-tuned; there is no task adapter to export (use what=merged)")
    model.save_pretrained(out, safe_serialization=True)
    tokenizer.save_pretrained(out)
    return out
