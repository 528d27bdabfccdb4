"""secvec: security vectors that make harmful behaviours unlearnable during fine-tuning."""

__version__ = "0.1.0"
