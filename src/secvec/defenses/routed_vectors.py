"""Routed vectors: per job, the vectors that held that kind of job in the attack matrix.

Beyond the paper, and built from the matrix itself (benchmarks/results/2026-11-27-cpu2-matrix-v13):
no single recipe held more than 4 of the 9 strong cells, some recipe held 7 of them, and which
one held a cell tracks what the job's data is. The route is read from the job alone:

- **delta**: at least `min_flagged` examples are flagged and the alignment delta explains them
  (their answer loss under the delta is at most `explained` times that of the provider's own
  harmful pairs): the job is the unaligned model's own kind of harm, and the delta
  (`delta-vectors`) held it at lr x1 and x3, 3 epochs and LoRA where trained vectors leaked.
  No anchor here: with it the delta let 8% of the generator's data through (v13a, seed 0).
- **adapt**: flagged but not explained (another author's style): the provider's vectors adapted
  to the flagged examples, with the defense's anchor (`adaptive-vectors`; held written and
  Gemma pairs, 3 seeds).
- **provider**: fewer than `min_flagged` flagged (benign, persona or lightly poisoned jobs): the
  provider's vectors unchanged, with the anchor (held benign drift; the delta let 24% through).
  `provider_anchor_data` gives this route its own anchor data: with `recovery-sensitive` here and
  the alignment set on the adapt route, 5% poison joined the held cells (v17d, 3 seeds).
  `adapt_from: delta` starts the adaptation from the alignment delta instead of the provider's
  vectors: the adapted vectors then carry the refusal's removal as well as the job's style, so
  the job has no refusal left to unlearn (a hypothesis from v13d's seed 0). Measured in v23 (3 seeds):
  written pairs 4.7% harm / 8% borderline against 9.3% / 10.7% from the provider's vectors, Gemma's
  pairs 10%: better, still failing. With `anchor_cover` as well (every job rehearses the whole anchor
  set) the recipe passed written pairs, the Nova persona (v24E, v25a) and, on a bf16 CPU, the lead,
  5% / 20% poison, benign drift (v26) and 300 sampled generator pairs (v27, adapt route) against the
  reference's 3-alignment mean, at plain benign refusal of 13-22% after a job and ~5-10x its training
  time: it is `configs/matrix.yaml`'s last row,
  opted into there rather than this class's default, since both options cost time on every job.

Judge it by the cells that did not choose the routes. Measured (3 seeds, bundled model, v15a in
docs/results.md): six of the nine strong cells pass (generator, written and Gemma pairs, lr x3, LoRA,
benign drift; 0-2.7% harmful at <= 5.3% borderline refusal); the unflagged jobs that teach an
opening or carry a little poison do not (Nova 7%, the lead 16%, 5% and 20% poison 5-6%), nor
does lr x10 (27%, the delta's own frontier; in v27 adapting from the delta did not move it: the delta
leaves the attack's loss where it was, and AdamW's clipped steps keep their size, only their direction
changes).

`stack_provider` (v31-v32, 3 seeds, bf16 CPU): the delta protects the end of a job, not its start (a
job stopped after 1 step left 11.3%, after 3 steps 14.7%: the served model refuses again only as the
job learns to compensate for the delta), while the provider's trained vectors held those short jobs.
With them stacked beside the delta in the forward pass (one adapter, the sum of both deltas; the guard
still on the delta alone) the short jobs held, but the job also learns to undo the provider's vectors,
which shows as refusal once they are off: at full scale a whole job's served model refused 24% of
borderline prompts (41% plain), and the anchor that brought that down let harm back in (5.3%, one
seed 14%). At a quarter of their scale the stack held both: after 3 steps 0.7%, after the whole job
0.7%, at 2-5% borderline (12-16% plain, the aligned model's 14%) and no anchor, so no extra time;
on the route's other cells lr x3, x10, 3 epochs and LoRA 0-2.7%, but lr x10 for 3 epochs still 14%.
At mid budgets (v34, as coded here): lr x3 for 3 epochs 2% (0/4/2) at 0.7% borderline; lr x10 for 2
epochs 12% (2/22/12), a fail by harm (the frontier at lr x10 lies between 1 and 2 epochs). v33's 14-18%
borderline refusal on those cells came from code that also ran the anchor on a stacked delta route
(v31b's variant; on v33's own aligned model, without it: 1.3% harm, 0.7% borderline, v34i); here the
delta route has no anchor, with or without the stack. Fading the stack out
over a job's first 13 steps (v34, `benchmarks/results/2026-11-29-cpu2-matrix-v34/v34-src.patch`) changed
nothing measurable and was not kept.

`guard_stack` (v35, 3 seeds, bf16 CPU, v34's alignment): the guard keeps to the stacked set's subspace,
the delta's and the provider's vectors' column and row spaces, instead of the delta's alone. Why: with
the guard on the delta, lr x10 for 2 epochs left 12% (2/22/12), learned outside the delta's subspace; a
tighter radius there did not move it (0.15: 11.3%, 0/26/8). The provider's vectors were trained to
make harmful compliance low-loss, so their subspace is a likely place for such a job to write it (a
reading; what is measured is the cell): guarded there too, the same cell left 3.3% (0/8/2). A stack
at half scale guarded on the delta left 8% (0/12/12); at full scale guarded on the stack 2% (2/2/2),
but its served model then refused 22% of borderline prompts after an n=100 job (47.7% plain), as the
full stack did before. On the route's other cells
(v35, 3 seeds): 1 and 3 steps 1.3% / 0.7%, n=100 0%, lr x3 0%, lr x7 2.7%, lr x10 4%, 3 epochs 0%,
LoRA 0%, lr x3 for 3 epochs 2.7%, at 0-6% borderline; lr x10 for 3 epochs still 14% (10/2/30), so the
frontier at lr x10 moved from between 1 and 2 epochs to between 2 and 3. `configs/matrix.yaml`'s last row.
"""

from __future__ import annotations

import logging
import math
import random
from typing import Any, Literal, Optional

from secvec.defenses.adaptive_vectors import AdaptiveVectorsDefense
from secvec.defenses.security_vectors import AnchorData, anchor_pairs, check_anchor_data
from secvec.defenses.base import DEFENSES, DefenseInputs
from secvec.errors import ConfigError
from secvec.vectors.project import ProjectOption

log = logging.getLogger(__name__)


@DEFENSES.register("routed-vectors")
class RoutedVectorsDefense(AdaptiveVectorsDefense):
    """`before`: the model before safety alignment (default: the provider's own, as in
    `delta-vectors`); `rank` of its delta; `explained`: the loss ratio up to which the delta
    explains the flagged examples; `compare`: at most that many examples per side in the ratio;
    `provider_anchor_data`: the anchor's data on the provider route where it differs from
    `anchor_data` (used on the adapt route); `adapt_from`: what the adapt route starts from, the
    provider's vectors or the alignment delta the route was just measured with; `project`: the
    subspace guard on the delta route only (where it was measured, v28), of the delta unless
    `guard_stack`; `stack_provider`: the scale of the provider's vectors beside the delta on the delta
    route (0: the delta alone; 0.25 measured, above); `guard_stack`: the guard keeps to the stacked
    set's subspace (the delta's and the provider's vectors') instead of the delta's alone. The other
    options are `adaptive-vectors'` (its `min_flagged` picks the provider route).
    """

    def __init__(self, before: str = "", rank: int = 32, explained: float = 1.25, compare: int = 48,
                 method: Literal["merge", "active"] = "merge", recipe: Optional[dict[str, Any]] = None,
                 epochs: int = 6, lr: Optional[float] = 2e-3, target_loss: float = 0.6, replay: int = 50,
                 threshold: float = 0.5, min_flagged: int = 20, anchor: float = 0.0, anchor_batch: int = 4,
                 anchor_data: AnchorData = "safe", provider_anchor_data: Optional[AnchorData] = None,
                 adapt_from: Literal["provider", "delta"] = "provider", anchor_cover: bool = False,
                 project: ProjectOption = None, stack_provider: float = 0.0, guard_stack: bool = False) -> None:
        super().__init__(method, recipe, epochs, lr, target_loss, replay, threshold, min_flagged, anchor, anchor_batch,
                         anchor_data, anchor_cover=anchor_cover, project=project)
        self.stack_provider, self.guard_stack = stack_provider, guard_stack
        if provider_anchor_data is not None:
            check_anchor_data("defense 'routed-vectors'", "provider_anchor_data", provider_anchor_data)
        self.provider_anchor_data = provider_anchor_data or anchor_data
        self.provider_anchor_pairs: list = []
        if not isinstance(rank, int) or rank < 1 or explained <= 0 or compare < 1 \
                or adapt_from not in ("provider", "delta") or isinstance(stack_provider, bool) \
                or not isinstance(stack_provider, (int, float)) or stack_provider < 0 \
                or not isinstance(guard_stack, bool) or (guard_stack and not (stack_provider and self.project)):
            raise ConfigError("defense 'routed-vectors': rank an integer >= 1, explained > 0, compare >= 1, "
                              "adapt_from provider or delta, stack_provider a number >= 0, guard_stack true or "
                              "false (true only with a stack and project)")
        self.pre_alignment, self.rank, self.explained, self.compare = before, rank, explained, compare
        self.adapt_from = adapt_from

    def prepare(self, inputs: DefenseInputs) -> None:
        self.pre_alignment = self.pre_alignment or inputs.pre_alignment_model() or ""
        if not self.pre_alignment:  # before the provider's vectors are trained
            raise ConfigError("defense 'routed-vectors' needs the model before safety alignment: give its name "
                              "or path as the option `before`")
        super().prepare(inputs)
        self.provider_anchor_pairs = self.anchor_pairs
        if self.anchor and self.provider_anchor_data != self.anchor_data:
            self.provider_anchor_pairs = anchor_pairs(inputs, self.provider_anchor_data)

    def finetune(self, model, tokenizer, examples, cfg, progress=None):
        from secvec.config import LLAMA_LINEAR
        from secvec.vectors.core import stacked
        from secvec.vectors.delta import delta_from

        flagged = self.flagged(examples)
        vectors, route = self.vectors, "provider"
        if len(flagged) >= self.min_flagged:
            delta = delta_from(model, self.pre_alignment, self.rank, LLAMA_LINEAR)
            ratio = self.delta_ratio(model, tokenizer, delta, flagged, cfg.seed)
            if ratio <= self.explained:
                vectors, route = delta, "delta"
                if self.stack_provider:
                    vectors = stacked(delta, self.vectors.scaled(self.stack_provider))
            else:
                start = delta if self.adapt_from == "delta" else self.vectors
                vectors, route = self.adapt(model, tokenizer, start, flagged, cfg, progress), "adapt"
        self.last_screening["route"] = route
        log.info("route: %s", route)
        pairs = self.provider_anchor_pairs if route == "provider" else self.anchor_pairs
        anchor = None if route == "delta" else self.anchor_for(tokenizer, vectors, cfg, len(examples), pairs)
        project = self.project if route == "delta" else None
        # the guard keeps a job out of the alignment's subspace only (with guard_stack: and the stacked vectors')
        guard = (vectors if self.guard_stack else delta) if route == "delta" else None
        return self.train_under(model, tokenizer, examples, cfg, vectors, anchor, progress, project, guard)

    def delta_ratio(self, model, tokenizer, delta, flagged, seed: int) -> float:
        """Answer loss of `flagged` over that of the provider's own harmful pairs, both with the delta on."""
        from secvec.eval.perplexity import perplexity
        from secvec.vectors.protect import vectors_on

        rng = random.Random(seed)
        own = self.inputs.vector_pairs()
        job, own = (rng.sample(x, min(self.compare, len(x))) for x in (flagged, own))
        with vectors_on(model, delta, exact=True) as m:
            job_loss, own_loss = (math.log(perplexity(m, tokenizer, x, max_length=128)) for x in (job, own))
        self.last_screening.update(delta_loss_job=job_loss, delta_loss_own=own_loss, delta_ratio=job_loss / own_loss)
        return job_loss / own_loss
