"""Alignment-delta vectors: security vectors that undo the safety alignment, not one answer style.

Beyond the paper. Vectors trained on 100 harmful pairs memorize them: on the first four answer
tokens the aligned model's loss on those pairs fell 1.73 -> 0.17, on held-out pairs of the same
generator only 1.61 -> 0.79, and on other authors' harmful pairs hardly at all (written pairs
3.15 -> 2.94, Gemma's answers 4.28 -> 3.72; the unaligned model has 2.17 and 2.87). A protected job
learns whatever the vectors leave at high loss, so data they never saw teaches harm anyway.
The provider that aligned the model also has its weights from before alignment. The rank-r SVD
of (before - aligned) on the vectors' linear layers is a LoRA delta under which the aligned
model answers harmful text about as the unaligned one does, whoever wrote it (rank 32: 2.21 and
3.00 on those pairs). A job trained with it on learns at a point where harmful compliance needs
no learning; the served model is the job's weights with the alignment delta taken back out of
the vectors, i.e. the job's update plus the alignment. Measured in benchmarks/results (v12).
"""

from __future__ import annotations

from typing import Literal, Optional

from secvec.defenses.base import DEFENSES, DefenseInputs
from secvec.defenses.security_vectors import SecurityVectorsDefense
from secvec.errors import ConfigError
from secvec.vectors.delta import alignment_delta


@DEFENSES.register("delta-vectors")
class DeltaVectorsDefense(SecurityVectorsDefense):
    """`before`: the model before safety alignment (a name or path `load_model` takes); `rank` of the delta.

    The anchor options of `security-vectors` apply, through the delta vectors.
    """

    def __init__(self, before: str = "", rank: int = 32, target_modules: Optional[list[str]] = None,
                 anchor: float = 0.0, anchor_batch: int = 4,
                 anchor_data: Literal["safe", "alignment"] = "safe") -> None:
        from secvec.config import LLAMA_LINEAR

        super().__init__("merge", None, anchor, anchor_batch, anchor_data)
        if not before:
            raise ConfigError("defense 'delta-vectors' needs `before`: the model before safety alignment "
                              "(a bundled name or a path)")
        if not isinstance(rank, int) or rank < 1:
            raise ConfigError("defense 'delta-vectors': rank must be an integer >= 1")
        self.before, self.rank = before, rank
        self.target_modules = list(target_modules or LLAMA_LINEAR)

    def prepare(self, inputs: DefenseInputs) -> None:
        self.prepare_anchor(inputs)

    def finetune(self, model, tokenizer, examples, cfg, progress=None):
        from secvec.models.loading import load_model

        # Taken from the model this job starts from (a second job's delta also undoes the first job).
        self.vectors = alignment_delta(model, load_model(self.before).model, self.rank, self.target_modules)
        return super().finetune(model, tokenizer, examples, cfg, progress)
