"""Per-job security vectors: the provider's vectors, adapted to the harmful part of each job.

Beyond the paper. Vectors make only the harmful data they explain low-loss; data in another
style keeps its loss and is learned (issue 11). A provider that runs the fine-tuning sees the
job's data, so before training it screens it (`judges.screen`), continues training its vectors
on the flagged examples (plus a replay of the vectors' own pairs, and the usual KL on benign
answers) epoch by epoch until their loss on them is at most `target_loss` (a protected job
learns what the vectors leave at high loss; measured: adapted vectors that stopped at loss 1.5
on written pairs let 44% through), at most `epochs` epochs, and fine-tunes with these adapted
vectors on and frozen. A job with nothing flagged
trains with the provider's vectors unchanged, so benign jobs pay only the screening.
With `before` (the model before safety alignment), the vectors a job starts from, and adapts
when it does, are the rank-`rank` alignment delta of `delta-vectors` instead of the provider's.
The anchor options of `security-vectors` apply here too, through the adapted vectors (the served
model is the weights minus the vectors the job trained under).
This is its own defense, not the paper's method: report it as such.
"""

from __future__ import annotations

import logging
import random
from typing import Any, Literal, Optional

from secvec.config import VectorsConfig
from secvec.defenses.base import DEFENSES, DefenseInputs
from secvec.defenses.security_vectors import AnchorData, SecurityVectorsDefense
from secvec.errors import ConfigError
from secvec.vectors.project import ProjectOption

log = logging.getLogger(__name__)


@DEFENSES.register("adaptive-vectors")
class AdaptiveVectorsDefense(SecurityVectorsDefense):
    def __init__(self, method: Literal["merge", "active"] = "merge", recipe: Optional[dict[str, Any]] = None,
                 epochs: int = 6, lr: Optional[float] = 2e-3, target_loss: float = 0.6, replay: int = 50,
                 threshold: float = 0.5, min_flagged: int = 1, anchor: float = 0.0, anchor_batch: int = 4,
                 anchor_data: AnchorData = "safe", before: str = "", rank: int = 32,
                 anchor_cover: bool = False, project: ProjectOption = None) -> None:
        super().__init__(method, recipe, anchor, anchor_batch, anchor_data, anchor_cover, project)
        self.before, self.rank = before, rank
        if not isinstance(epochs, int) or epochs < 1 or replay < 0 or not 0 < threshold < 1 or min_flagged < 1 \
                or target_loss < 0:
            raise ConfigError("defense 'adaptive-vectors': epochs an integer >= 1, replay >= 0, 0 < threshold < 1, "
                              "min_flagged >= 1, target_loss >= 0")
        self.epochs, self.lr, self.replay, self.threshold, self.min_flagged = epochs, lr, replay, threshold, min_flagged
        self.target_loss = target_loss
        self.last_screening: Optional[dict[str, Any]] = None

    def prepare(self, inputs: DefenseInputs) -> None:
        from secvec.judges.screen import HarmfulRequestScreen

        super().prepare(inputs)
        self.inputs = inputs
        self.screen = HarmfulRequestScreen(*inputs.screen_prompts(), threshold=self.threshold)

    def flagged(self, examples) -> list:
        """The job's examples the screen flags as harmful compliance (records `last_screening`)."""
        screening = self.screen.screen(examples)
        self.last_screening = screening.to_dict()
        log.info("screen: %d of %d examples flagged as harmful compliance", len(screening.flagged), screening.n)
        return [examples[i] for i in screening.flagged]

    def adapt(self, model, tokenizer, vectors, flagged, cfg, progress=None):
        """`vectors` trained on `flagged` plus a replay of the provider's pairs, epoch by epoch, until
        their loss is at most `target_loss` (at most `epochs`); records the losses in `last_screening`."""
        from secvec.vectors.train import train_vectors

        own = self.inputs.vector_pairs()
        replay = random.Random(cfg.seed).sample(own, min(self.replay, len(own)))
        # the provider's own vectors settings (lr, schedule, precision), from their metadata
        vcfg = VectorsConfig.model_validate(self.vectors.meta.get("config") or {})
        losses, seconds = [], 0.0
        for epoch in range(self.epochs):  # one epoch at a time, constant lr, until the job is explained
            vcfg = vcfg.model_copy(update={"train": vcfg.train.model_copy(update={
                "epochs": 1, "seed": cfg.seed + epoch, "scheduler": "constant", "warmup_steps": 0,
                **({"lr": self.lr} if self.lr else {})})})
            vectors, result = train_vectors(model, tokenizer, flagged + replay, self.inputs.benign_pairs(), vcfg,
                                            progress=progress, init=vectors)
            losses.append(result.final_loss)
            seconds += result.seconds
            if result.final_loss <= self.target_loss:
                break
        self.last_screening.update(adapt_loss=losses[-1], adapt_losses=losses, adapt_epochs=len(losses),
                                   adapt_seconds=seconds)
        return vectors

    def finetune(self, model, tokenizer, examples, cfg, progress=None):
        flagged = self.flagged(examples)
        vectors = self.vectors
        if self.before:  # the alignment delta (`delta-vectors`) is what the job's vectors start from
            from secvec.config import LLAMA_LINEAR
            from secvec.vectors.delta import delta_from

            vectors = delta_from(model, self.before, self.rank, LLAMA_LINEAR)
        if len(flagged) >= self.min_flagged:
            vectors = self.adapt(model, tokenizer, vectors, flagged, cfg, progress)
        anchor = self.anchor_for(tokenizer, vectors, cfg, len(examples))
        return self.train_under(model, tokenizer, examples, cfg, vectors, anchor, progress, self.project)

    def train_under(self, model, tokenizer, examples, cfg, vectors, anchor, progress=None, project=None, guard=None):
        """The protected job under the job's `vectors` (`project`: its subspace guard, of `guard` where
        given, else of the vectors), its screening recorded in the result."""
        from secvec.vectors.protect import protected_finetune

        model, result = protected_finetune(model, tokenizer, examples, cfg, vectors, self.method, progress=progress,
                                           regularizer=anchor, project=project, guard=guard)
        result.extra["screening"] = self.last_screening
        return model, result
