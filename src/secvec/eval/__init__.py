"""Evaluation: generation runs judged for harmfulness, over-refusal and task utility."""

from secvec.eval.harmfulness import EvalResult, evaluate_model

__all__ = ["EvalResult", "evaluate_model"]
