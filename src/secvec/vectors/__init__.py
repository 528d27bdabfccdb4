"""Security vectors: train, keep on-and-frozen during fine-tuning, switch off, export."""

from secvec.vectors.core import ADAPTER_NAME, SecurityVectors, load_under_stack, model_fingerprint, stacked
from secvec.vectors.delta import alignment_delta
from secvec.vectors.export import export_model
from secvec.vectors.protect import active, merged, protected_finetune, vectors_on
from secvec.vectors.train import BenignKL, answer_kl, train_vectors

__all__ = ["ADAPTER_NAME", "SecurityVectors", "load_under_stack", "model_fingerprint", "stacked", "alignment_delta", "export_model",
           "active", "merged", "protected_finetune", "vectors_on", "BenignKL", "answer_kl", "train_vectors"]
