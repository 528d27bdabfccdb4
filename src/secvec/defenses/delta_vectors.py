"""Alignment-delta vectors: security vectors that undo the safety alignment, not one answer style.

Beyond the paper. Trained vectors memorize their 100 pairs: on the first four answer tokens the
aligned model's loss on them falls 1.73 -> 0.17, on the same generator's answers to other prompts
only 1.61 -> 0.79, on other authors' pairs hardly (written 3.15 -> 2.94, Gemma 4.28 -> 3.72).
The provider that aligned the model also has its weights from before alignment. The rank-r SVD of
(before - aligned) on the vectors' linear layers is a LoRA delta under which the aligned model
opens harmful answers as the unaligned one did (rank 32: 0.87, 2.21, 3.00; unaligned 0.97, 2.17,
2.87). A job trained with it on takes its gradient where compliance is already the model's
behaviour; the served model is the job's update added to the aligned weights.

Measured (3 seeds, bundled model): it holds the generator's data at lr x1 and x3, 3 epochs and
a LoRA attacker (0-2%) with no added refusal, where trained vectors leak or refuse, but not at
lr x10 (27%); it does not hold data in another style, benign drift or identity shifts (the
job's update, added back to the aligned weights, still overrides refusal there).
benchmarks/results/2026-11-27-cpu2-matrix-v13. With `project: both` (the subspace guard, v28) it
holds lr x10, Gemma's pairs, benign drift, 5% poison and the lead, at a 4-14% floor on every
harmful cell (its own source 7.3%, lr x3 10.7%): `vectors/project.py`.
"""

from __future__ import annotations

from typing import Optional

from secvec.defenses.base import DEFENSES, DefenseInputs
from secvec.defenses.security_vectors import AnchorData, SecurityVectorsDefense
from secvec.errors import ConfigError
from secvec.vectors.delta import delta_from
from secvec.vectors.project import ProjectOption
from secvec.vectors.protect import protected_finetune


@DEFENSES.register("delta-vectors")
class DeltaVectorsDefense(SecurityVectorsDefense):
    """`before`: the model before safety alignment (a name or path `load_model` takes; default: the
    provider's own, which an experiment has since it aligned it); `rank` of the delta.

    The anchor options of `security-vectors` apply, through the delta vectors. `forward: false`
    (with `project`) trains the job at the aligned point, vectors off, and only keeps its update
    out of the delta's subspace.
    """

    def __init__(self, before: str = "", rank: int = 32, target_modules: Optional[list[str]] = None,
                 anchor: float = 0.0, anchor_batch: int = 4,
                 anchor_data: AnchorData = "safe", anchor_cover: bool = False,
                 project: ProjectOption = None, forward: bool = True) -> None:
        from secvec.config import LLAMA_LINEAR

        super().__init__("merge", None, anchor, anchor_batch, anchor_data, anchor_cover, project)
        if not isinstance(rank, int) or rank < 1:
            raise ConfigError("defense 'delta-vectors': rank must be an integer >= 1")
        if not forward and (not project or anchor):
            raise ConfigError("defense 'delta-vectors': forward false needs project (else the job is vanilla) and "
                              "no anchor (it trains through the vectors)")
        self.before, self.rank, self.forward = before, rank, forward
        self.target_modules = list(target_modules or LLAMA_LINEAR)

    def prepare(self, inputs: DefenseInputs) -> None:
        self.before = self.before or inputs.pre_alignment_model() or ""
        if not self.before:
            raise ConfigError("defense 'delta-vectors' needs the model before safety alignment: give its name "
                              "or path as the option `before`")
        self.prepare_anchor(inputs)

    def finetune(self, model, tokenizer, examples, cfg, progress=None):
        # Taken from the model this job starts from (a second job's delta also undoes the first job).
        self.vectors = delta_from(model, self.before, self.rank, self.target_modules)
        if self.forward:
            return super().finetune(model, tokenizer, examples, cfg, progress)
        return protected_finetune(model, tokenizer, examples, cfg, None, progress=progress, project=self.project,
                                  guard=self.vectors)
