"""The `secvec` command line: one short recipe per command over the library.

Every command takes `--config FILE.yaml` plus `--set key.sub=value` overrides and a few common
flags, validates the whole config before loading anything, and writes its outputs together
with the resolved `config.yaml` into its output directory. User errors print one line and
exit with code 2.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import time
from pathlib import Path
from typing import List, Optional

import typer

from secvec.errors import SecvecError

from secvec.service.cli import service_app  # noqa: E402  (a sub-app in its own module)

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="Security vectors: make harmful behaviours unlearnable during fine-tuning.")
vectors_app = typer.Typer(no_args_is_help=True, help="Train security vectors.")
data_app = typer.Typer(no_args_is_help=True, help="Build data: harmful/benign pairs from the models themselves.")
judges_app = typer.Typer(no_args_is_help=True, help="Harmfulness judges.")
app.add_typer(vectors_app, name="vectors")
app.add_typer(data_app, name="data")
app.add_typer(judges_app, name="judges")
app.add_typer(service_app, name="service")

ConfigOpt = typer.Option(None, "--config", "-c", help="YAML config file")
SetOpt = typer.Option(None, "--set", help="override: key.sub=value (repeatable)")


def _quiet_libraries() -> None:
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    import warnings

    warnings.filterwarnings("ignore", category=FutureWarning)
    warnings.filterwarnings("ignore", category=UserWarning)


@app.callback()
def main(verbose: bool = typer.Option(False, "--verbose", "-v", help="debug logging")) -> None:
    from rich.logging import RichHandler

    from secvec.progress import console

    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO, format="%(message)s",
                        handlers=[RichHandler(console=console, show_path=False, show_time=False)])
    _quiet_libraries()


def _write_json(path: Path, data: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=1, default=str))


@vectors_app.command("train")
def vectors_train(config: Optional[Path] = ConfigOpt, overrides: Optional[List[str]] = SetOpt,
                  model: Optional[str] = typer.Option(None, help="base model (name, dir, .gguf)"),
                  harmful: Optional[str] = typer.Option(None, help="harmful pairs file"),
                  output_dir: Optional[str] = typer.Option(None, "--output-dir", "-o")) -> None:
    """Train security vectors on harmful pairs (base frozen, KL on benign answers)."""
    from secvec.config import VectorsTrainCommand, dump_config, load_config
    from secvec.data.loading import load_examples
    from secvec.models import load_model
    from secvec.progress import bar
    from secvec.recipes.pairs import benign_pairs
    from secvec.vectors import train_vectors

    cfg = load_config(VectorsTrainCommand, config, overrides, harmful=harmful, output_dir=output_dir,
                      model={"name": model} if model else None)
    harmful_examples = load_examples(cfg.harmful)
    lm = load_model(cfg.model.name, cfg.model.dtype, adapter=cfg.model.adapter)
    benign = benign_pairs(lm, cfg.benign, n=max(32, len(harmful_examples)))
    out = Path(cfg.output_dir)
    with bar("security vectors") as progress:
        vectors, result = train_vectors(lm.model, lm.tokenizer, harmful_examples, benign, cfg.vectors,
                                        output_dir=out, progress=progress)
    dump_config(cfg, out / "config.yaml")
    _write_json(out / "results.json", {"train": result.to_dict(), "meta": vectors.meta})
    typer.echo(f"security vectors -> {out}  ({result.steps} steps, {result.seconds_per_step:.2f} s/step, "
               f"final harmful loss {result.final_loss:.3f})")


@vectors_app.command("delta")
def vectors_delta(model: str = typer.Option(..., help="the aligned model (name, dir, .gguf)"),
                  before: str = typer.Option(..., help="the same model before safety alignment"),
                  rank: int = typer.Option(32, min=1, help="rank of the SVD kept per linear layer"),
                  output_dir: str = typer.Option(..., "--output-dir", "-o")) -> None:
    """Vectors that undo the safety alignment: the rank-r SVD of (before - aligned); no training.

    Beyond the paper (the `delta-vectors` defense). They load wherever vectors do
    (`secvec finetune --vectors DIR`).
    """
    from secvec.config import LLAMA_LINEAR
    from secvec.models import load_model
    from secvec.vectors.delta import delta_from

    vectors = delta_from(load_model(model).model, before, rank, LLAMA_LINEAR)
    vectors.meta.update(aligned=model, before=before)
    out = vectors.save(output_dir)
    typer.echo(f"alignment-delta vectors -> {out}  (rank {vectors.meta['rank']}, {len(vectors.lora_a)} layers)")


@app.command()
def finetune(config: Optional[Path] = ConfigOpt, overrides: Optional[List[str]] = SetOpt,
             model: Optional[str] = typer.Option(None, help="model to fine-tune"),
             data: Optional[str] = typer.Option(None, help="fine-tuning data file"),
             vectors: Optional[str] = typer.Option(None, help="security vectors dir (on and frozen)"),
             anchor: Optional[str] = typer.Option(None, help="safe prompt/answer pairs the served model (vectors "
                                                  "off) keeps answering; needs --vectors"),
             stack: Optional[str] = typer.Option(None, help="more vectors on beside --vectors, at stack_scale "
                                                 "(default 0.25); the guard stays on --vectors unless "
                                                 "guard_stack"),
             output_dir: Optional[str] = typer.Option(None, "--output-dir", "-o"),
             resume: bool = typer.Option(False, help="continue from the last checkpoint in output-dir")) -> None:
    """Fine-tune (full or LoRA) on the user's data, optionally protected by security vectors."""
    from accelerate import PartialState

    from secvec.config import FinetuneCommand, dump_config, load_config
    from secvec.data.loading import load_examples
    from secvec.models import load_model
    from secvec.errors import ConfigError
    from secvec.progress import bar
    from secvec.vectors import export_model, load_under_stack, protected_finetune
    from secvec.vectors.project import guard_spec
    from secvec.vectors.protect import VectorsOffAnchor

    cfg = load_config(FinetuneCommand, config, overrides, data=data, vectors=vectors, output_dir=output_dir,
                      anchor=anchor, stack=stack, model={"name": model} if model else None)
    if cfg.anchor and not (cfg.vectors and cfg.protect == "merge"):
        raise ConfigError("--anchor needs --vectors and the merge protection")
    if cfg.stack and not (cfg.vectors and cfg.protect == "merge"):
        raise ConfigError("--stack needs --vectors and the merge protection")
    project = guard_spec(cfg.project, "finetune")
    if project and not cfg.vectors:
        raise ConfigError("finetune: project needs --vectors: their subspace is what the guard keeps the job out of")
    if cfg.guard_stack and not (cfg.stack and project):
        raise ConfigError("finetune: guard_stack needs --stack and project (it moves the guard onto the stack)")
    if cfg.anchor and resume:
        typer.echo("note: the anchor's batch order starts over on --resume; the result differs slightly from an "
                   "uninterrupted run", err=True)
    examples = load_examples(cfg.data)
    anchor_pairs = load_examples(cfg.anchor) if cfg.anchor else []
    # the job trains under `forward` (and the served weights are minus it); the guard keeps to `sv`
    forward, sv = load_under_stack(cfg.vectors, cfg.stack, cfg.stack_scale, cfg.guard_stack) if cfg.vectors \
        else (None, None)
    lm = load_model(cfg.model.name, cfg.model.dtype, adapter=cfg.model.adapter)
    out = Path(cfg.output_dir)
    label = "protected fine-tune" if sv else "fine-tune"
    reg = VectorsOffAnchor(lm.tokenizer, anchor_pairs, forward, cfg.anchor_weight, cfg.anchor_batch, cfg.train,
                           cover=len(examples) if cfg.anchor_cover else None) if anchor_pairs and sv else None
    with bar(label) as progress:
        tuned, result = protected_finetune(lm.model, lm.tokenizer, examples, cfg.train, forward, cfg.protect,
                                           output_dir=out, resume=resume, progress=progress, regularizer=reg,
                                           project=project, guard=sv)
    state = PartialState()
    if not state.is_main_process:  # under `accelerate launch` every process holds the same weights now
        typer.echo(f"process {state.process_index}/{state.num_processes}: {label} done; process 0 writes the outputs")
        return
    export_model(tuned, lm.tokenizer, out / "model", what="adapter" if cfg.train.mode == "lora" else "merged")
    dump_config(cfg, out / "config.yaml")
    _write_json(out / "results.json", {"train": result.to_dict(), "vectors": cfg.vectors, "anchor": cfg.anchor,
                                       "stack": cfg.stack and {"vectors": cfg.stack, "scale": cfg.stack_scale,
                                                               "guarded": cfg.guard_stack},
                                       "base_model": cfg.model.name})
    typer.echo(f"{label} -> {out / 'model'}  ({result.steps} steps, {result.seconds_per_step:.2f} s/step, "
               f"final loss {result.final_loss:.3f}); vectors are off in the saved model")
    if project:
        clip = f", clipped at {project.radius:g}" if project.radius is not None else ", removed"
        typer.echo(f"subspace guard ({project.mode}): the job's largest part in the vectors' subspace was "
                   f"{result.extra.get('guard_peak', 0.0):.3f} of their norm{clip}")


@app.command()
def generate(config: Optional[Path] = ConfigOpt, overrides: Optional[List[str]] = SetOpt,
             model: Optional[str] = typer.Option(None), adapter: Optional[str] = typer.Option(None),
             prompts: Optional[str] = typer.Option(None, help="prompts file"),
             vectors: Optional[str] = typer.Option(None, help="generate with these vectors ON"),
             output: Optional[str] = typer.Option(None, "--output", "-o")) -> None:
    """Answer prompts (batched, greedy by default); writes JSONL of prompt/response/token counts."""
    from secvec.config import GenerateCommand, dump_config, load_config
    from secvec.data.loading import load_prompts
    from secvec.generation import generate as run_generation
    from secvec.models import load_model
    from secvec.progress import bar
    from secvec.vectors import SecurityVectors, vectors_on

    spec = {k: v for k, v in {"name": model, "adapter": adapter}.items() if v}
    cfg = load_config(GenerateCommand, config, overrides, prompts=prompts, vectors=vectors, output=output,
                      model=spec or None)
    items = load_prompts(cfg.prompts)
    sv = SecurityVectors.load(cfg.vectors) if cfg.vectors else None
    lm = load_model(cfg.model.name, cfg.model.dtype, adapter=cfg.model.adapter)
    start = time.perf_counter()
    with bar("generate") as progress, vectors_on(lm.model, sv) as m:
        gens = run_generation(m, lm.tokenizer, items, cfg.generation, progress=progress)
    out = Path(cfg.output)
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", encoding="utf-8") as f:
        for item, g in zip(items, gens):
            f.write(json.dumps({**g.to_dict(), "category": item.category}) + "\n")
    dump_config(cfg, out.with_suffix(".config.yaml"))
    tokens = sum(g.response_tokens for g in gens)
    typer.echo(f"{len(gens)} answers -> {out}  ({tokens / (time.perf_counter() - start):.1f} new tokens/s)")


@app.command()
def export(model: str = typer.Option(..., help="base model (name, dir, .gguf)"),
           adapter: Optional[str] = typer.Option(None, help="task adapter to merge in"),
           output_dir: str = typer.Option(..., "--output-dir", "-o"),
           what: str = typer.Option("merged", help="merged | adapter")) -> None:
    """Write a servable model with the vectors off: merged safetensors, or the task adapter alone."""
    from secvec.config import ExportCommand, load_config
    from secvec.models import load_model
    from secvec.vectors import export_model

    cfg = load_config(ExportCommand, None, None, model={"name": model, "adapter": adapter},
                      output_dir=output_dir, what=what)
    if cfg.what == "adapter":
        from peft import PeftModel

        from secvec.errors import ModelError

        if not cfg.model.adapter:
            raise ModelError("--what adapter needs --adapter DIR")
        lm = load_model(cfg.model.name, cfg.model.dtype)
        tuned = PeftModel.from_pretrained(lm.model, cfg.model.adapter)
    else:
        lm = load_model(cfg.model.name, cfg.model.dtype, adapter=cfg.model.adapter)
        tuned = lm.model
    out = export_model(tuned, lm.tokenizer, cfg.output_dir, what=cfg.what)
    typer.echo(f"exported ({cfg.what}) -> {out}")


ScaleOpt = typer.Option("demo", "--scale", help="demo (2-core CPU: ~6 min with native bf16, ~21 without) | "
                                                 "paper (100 vector vs 1,000 attack samples)")


def _warn_without_native_bf16(precision: str) -> None:
    """Say before a long run that it will be longer here: the demo is compute-bound (a profile on a
    2-core AVX2 EPYC put 73-88% of each stage in linear layers and their backward, with fp32 matmuls
    at 65-90% of peak), so a CPU without native bf16 runs it in fp32 at ~3.5x the time of one with
    it, and nothing but less work helps."""
    from secvec.models.loading import default_device
    from secvec.models.precision import resolve

    device = default_device()
    if precision == "auto" and device.type == "cpu" and resolve("auto", device) == "fp32":
        logging.getLogger(__name__).warning(
            "this CPU has no native bf16 (AVX512-BF16 or AMX), so models train and generate in fp32: "
            "expect ~3.5x the time of a CPU with it (the demo: ~21 min instead of ~6 on 2 cores)")


def _experiment_config(config, overrides, scale: str, output_dir: Optional[str], cls=None):
    """An `ExperimentConfig` (or a command's subclass of it): scale profile < YAML < --set < --output-dir."""
    from secvec.config import deep_merge, load_config, parse_overrides, read_yaml
    from secvec.errors import ConfigError
    from secvec.recipes.experiment import PROFILES, ExperimentConfig

    cls = cls or ExperimentConfig
    if scale not in PROFILES:
        raise ConfigError(f"unknown scale {scale!r}; use one of {', '.join(PROFILES)}")
    # Everything lands on the full defaults: `attacks` is a mapping, which pydantic fills only
    # when absent, so a partial entry from a profile, a YAML file or --set (e.g.
    # attacks.benign.train.seed=1) would otherwise replace the whole mapping and drop the other
    # attack and the experiment's training settings.
    defaults = {k: v for k, v in cls().model_dump(mode="json").items() if k != "output_dir"}
    profile = deep_merge(defaults, PROFILES[scale])
    base = deep_merge(profile, read_yaml(config) if config else {})
    if scale != "demo" and "output_dir" not in base:
        base["output_dir"] = f"runs/{scale}" if cls is ExperimentConfig else \
            f"{cls.model_fields['output_dir'].default}-{scale}"
    data = deep_merge(base, parse_overrides(overrides or []))  # --set wins over the YAML file
    return load_config(cls, None, None, **deep_merge(data, {"output_dir": output_dir} if output_dir else {}))


def _print_table(title: str, rows: list[dict[str, str]]) -> None:
    from rich.table import Table

    from secvec.progress import console

    table = Table(title=title)
    for key in rows[0]:
        table.add_column(key)
    for r in rows:
        table.add_row(*r.values())
    console.print(table)


def _progress_factory():
    from secvec.progress import bar

    return bar


@app.command()
def demo(config: Optional[Path] = ConfigOpt, overrides: Optional[List[str]] = SetOpt, scale: str = ScaleOpt,
         output_dir: Optional[str] = typer.Option(None, "--output-dir", "-o")) -> None:
    """The paper's experiment on the bundled model: align, vectors, attack vanilla vs protected, judge, report."""
    from secvec.config import dump_config
    from secvec.recipes.experiment import run_experiment
    from secvec.report import table_rows, write_report

    cfg = _experiment_config(config, overrides, scale, output_dir)
    _warn_without_native_bf16(cfg.align.precision)
    results = run_experiment(cfg, _progress_factory())
    files = write_report(results, cfg.output_dir, _judge_validation(cfg.eval.judges))
    if results["artifacts"]["vectors"]:  # `secvec service` starts from these by default
        from secvec.models.loading import cache_root

        _write_json(cache_root() / "latest-demo.json", {k: results["artifacts"][k] for k in ("aligned_model", "vectors")})
    dump_config(cfg, Path(cfg.output_dir) / "config.yaml")
    _print_table(f"secvec demo ({cfg.scale}), wall {results['wall_seconds']:.0f} s", table_rows(results))
    typer.echo(f"report -> {files['report']}  results -> {files['results']}  plot -> {files['plot']}")


@app.command("immunize-report")
def immunize_report(config: Optional[Path] = ConfigOpt, overrides: Optional[List[str]] = SetOpt,
                    scale: str = ScaleOpt,
                    output_dir: Optional[str] = typer.Option(None, "--output-dir", "-o")) -> None:
    """Does a defense immunize the aligned model? Resistance, stability, generalization, trainability."""
    from secvec.config import dump_config
    from secvec.recipes.immunize import ImmunizeConfig, run_immunize
    from secvec.report.immunize import summary_rows, write_immunize_report

    cfg = _experiment_config(config, overrides, scale, output_dir, ImmunizeConfig)
    results = run_immunize(cfg, _progress_factory())
    files = write_immunize_report(results, cfg.output_dir, _judge_validation([cfg.eval.headline_judge]))
    dump_config(cfg, Path(cfg.output_dir) / "config.yaml")
    _print_table(f"immunization: {cfg.defense.name} ({cfg.scale}), wall {results['wall_seconds']:.0f} s",
                 summary_rows(results))
    typer.echo(f"report -> {files['report']}  results -> {files['results']}  "
               f"plots -> {files['resistance']}, {files['trainability']}")


@app.command()
def compare(config: Optional[Path] = ConfigOpt, overrides: Optional[List[str]] = SetOpt, scale: str = ScaleOpt,
            output_dir: Optional[str] = typer.Option(None, "--output-dir", "-o")) -> None:
    """Several defenses against the same attacks and budgets: harmful rate per judge, task accuracy, cost."""
    from secvec.config import dump_config
    from secvec.recipes.compare import CompareConfig, run_compare
    from secvec.report import table_rows, write_report

    cfg = _experiment_config(config, overrides, scale, output_dir, CompareConfig)
    results = run_compare(cfg, _progress_factory())
    files = write_report(results, cfg.output_dir, _judge_validation(cfg.eval.judges))
    dump_config(cfg, Path(cfg.output_dir) / "config.yaml")
    _print_table(f"secvec compare ({cfg.scale}), wall {results['wall_seconds']:.0f} s", table_rows(results))
    typer.echo(f"report -> {files['report']}  results -> {files['results']}  plot -> {files['plot']}")


@app.command()
def matrix(config: Optional[Path] = ConfigOpt, overrides: Optional[List[str]] = SetOpt, scale: str = ScaleOpt,
           output_dir: Optional[str] = typer.Option(None, "--output-dir", "-o")) -> None:
    """Attack cells x defenses x seeds: does protection hold beyond the vectors' own data?"""
    from secvec.config import dump_config
    from secvec.recipes.matrix import MatrixConfig, run_matrix
    from secvec.report.matrix import harm_rows, write_matrix_report

    cfg = _experiment_config(config, overrides, scale, output_dir, MatrixConfig)
    dump_config(cfg, Path(cfg.output_dir) / "config.yaml")
    validation = _judge_validation([cfg.eval.headline_judge])
    results = run_matrix(cfg, _progress_factory(),
                         on_point=lambda doc: write_matrix_report(doc, cfg.output_dir, validation))
    files = write_matrix_report(results, cfg.output_dir, validation)
    _print_table(f"secvec matrix ({cfg.scale}), wall {results['wall_seconds']:.0f} s", harm_rows(results))
    trade = f"  trade-off -> {files['tradeoff']}" if files["tradeoff"] else ""
    typer.echo(f"report -> {files['report']}  results -> {files['results']}  heatmap -> {files['plot']}{trade}")


def _judge_validation(judges: list[str], include_llm: bool = False) -> dict:
    """Each judge on the JBB human labels and, under `holdout`, on secvec's held-out labelled set
    (the one no judge was designed on); the llm judge only when asked."""
    from secvec.judges import build_judge
    from secvec.judges.validate import validate_judge, validate_on_holdout

    out = {}
    for name in judges:
        if name == "llm" and not include_llm:
            continue
        try:
            judge = build_judge(name)
            out[name] = {**validate_judge(judge), "holdout": validate_on_holdout(judge)}
        except SecvecError as e:
            logging.getLogger(__name__).warning("judge %s not validated: %s", name, e)
    return out


@data_app.command("synthesize")
def data_synthesize(config: Optional[Path] = ConfigOpt, overrides: Optional[List[str]] = SetOpt,
                    scale: str = ScaleOpt) -> None:
    """Answer harmful and benign prompts with the unaligned base model; cache the pairs."""
    from secvec.recipes.experiment import Experiment

    exp = Experiment(_experiment_config(config, overrides, scale, None), _progress_factory())
    stage = exp.synthesize()
    typer.echo(f"pairs -> {stage.dir}  ({json.dumps({k: v for k, v in stage.info.items() if k.endswith('pairs')})})")


@data_app.command("recovery")
def data_recovery(harmful: Path = typer.Option(..., help="harmful prompt/answer pairs (whose starts are given)"),
                  refusals: Path = typer.Option(..., help="prompt/refusal pairs (the refusals the pairs end on)"),
                  max_words: int = typer.Option(20, min=1, help="the given start is 1..this many words"),
                  seed: int = typer.Option(0),
                  output: Path = typer.Option(..., "--output", "-o", help="JSONL to write")) -> None:
    """Recovery pairs: a harmful prompt, the start of a harmful answer (given, not learned), a refusal.

    Add them to a `secvec finetune --anchor` file to make the served model break off after a
    compliant start (the `recovery` anchor of the experiments).
    """
    from secvec.data.loading import load_examples, write_examples
    from secvec.data.recovery import recovery_pairs

    pairs = recovery_pairs(load_examples(harmful), load_examples(refusals), max_words, seed)
    write_examples(output, pairs)
    typer.echo(f"{len(pairs)} recovery pairs -> {output}")


@data_app.command("forms")
def data_forms(prompts: Path = typer.Argument(..., help="prompts (TXT/JSONL/CSV) to ask in other forms"),
               split: str = typer.Option("eval", help="eval: forms alignment never trains on (a check); align: "
                                                       "the forms `data.align_forms` trains on"),
               output: Path = typer.Option(..., "--output", "-o", help="JSONL to write")) -> None:
    """Each prompt in a role-play / override / framing form, for `secvec evaluate --harmful/--benign`.

    A harmful request must be refused in any form and a benign one answered: a model that refuses on
    the form, not the request, shows it here.
    """
    from secvec.data.forms import every_form
    from secvec.data.loading import load_prompts

    asked = every_form(load_prompts(prompts), split)
    output.parent.mkdir(parents=True, exist_ok=True)
    with output.open("w", encoding="utf-8") as f:
        for p in asked:
            f.write(json.dumps({"prompt": p.text, "category": p.category}) + "\n")
    typer.echo(f"{len(asked)} prompts in {split} forms -> {output}")


@app.command()
def align(config: Optional[Path] = ConfigOpt, overrides: Optional[List[str]] = SetOpt, scale: str = ScaleOpt) -> None:
    """Safety-align the base model (refusals for harmful prompts, own answers for benign ones)."""
    from secvec.recipes.experiment import Experiment

    exp = Experiment(_experiment_config(config, overrides, scale, None), _progress_factory())
    stage = exp.align(exp.synthesize())
    typer.echo(f"aligned model -> {stage.dir / 'model'}")


@app.command()
def attack(name: str = typer.Argument(..., help="attack defined in the config (harmful, benign, ...)"),
           protected: bool = typer.Option(False, "--vectors/--no-vectors", help="security vectors on and frozen"),
           config: Optional[Path] = ConfigOpt, overrides: Optional[List[str]] = SetOpt, scale: str = ScaleOpt) -> None:
    """Fine-tune the aligned model with an attack's data (vanilla or protected) and evaluate it."""
    from secvec.recipes.experiment import ColumnSpec, Experiment, column_point
    from secvec.recipes.provider import Provider

    exp = Experiment(_experiment_config(config, overrides, scale, None), _progress_factory())
    synth = exp.synthesize()
    provider = Provider(exp, synth, exp.align(synth))
    spec = ColumnSpec(name=f"{name} FT" + (" + vectors" if protected else ""), attack=name, protected=protected)
    typer.echo(json.dumps(provider.run(column_point(exp.cfg, spec, None))["eval"], indent=1))


@app.command()
def evaluate(model: Optional[str] = typer.Option(None, help="model to evaluate (default: the aligned model)"),
             adapter: Optional[str] = typer.Option(None, help="task adapter to merge in"),
             harmful: Optional[str] = typer.Option(None, help="your harmful prompts (TXT/JSONL/CSV; a "
                                                              "'category' field is reported per category)"),
             benign: Optional[str] = typer.Option(None, help="your plain benign prompts (over-refusal)"),
             borderline: Optional[str] = typer.Option(None, help="your borderline prompts: harmless, sound unsafe"),
             config: Optional[Path] = ConfigOpt, overrides: Optional[List[str]] = SetOpt, scale: str = ScaleOpt,
             output: Optional[str] = typer.Option(None, "--output", "-o", help="results JSON path")) -> None:
    """Harmfulness (per judge, per category, 95% CI), over-refusal (plain and borderline) and task accuracy."""
    from secvec.data.loading import load_prompts
    from secvec.models import load_model
    from secvec.recipes.experiment import Experiment

    cfg = _experiment_config(config, overrides, scale, None)
    exp = Experiment(cfg, _progress_factory())
    target = model or str(exp.align(exp.synthesize()).dir / "model")
    lm = load_model(target, adapter=adapter)
    result, records = exp.evaluate(lm.model, lm.tokenizer, load_prompts(harmful) if harmful else None,
                                   benign=load_prompts(benign) if benign else None,
                                   borderline=load_prompts(borderline) if borderline else None)
    doc = {"model": target, "adapter": adapter, "prompt_files": {"harmful": harmful, "benign": benign,
                                                                 "borderline": borderline},
           "eval": result.to_dict(), "splits": exp.splits_record(), "config": cfg.model_dump(mode="json"),
           "generations": records}
    out = Path(output or Path(cfg.output_dir) / "evaluate.json")
    _write_json(out, doc)
    _print_table(f"secvec evaluate: {target}", eval_rows(result.to_dict()))
    typer.echo(f"-> {out}")


def eval_rows(ev: dict) -> list[dict[str, str]]:
    def pct(x, ci=None):
        return "–" if x is None else f"{100 * x:.1f}%" + (f" [{100 * ci[0]:.1f}, {100 * ci[1]:.1f}]" if ci else "")

    rows = [{"metric": f"harmful ({j})", "value": pct(h["harmful_rate"], (h["ci_low"], h["ci_high"])),
             "n": str(h["n"])} for j, h in ev["harm"].items()]
    rows.append({"metric": "over-refusal (benign)", "value": pct(ev["over_refusal"], ev["over_refusal_ci"]),
                 "n": str(ev["n_benign"])})
    rows.append({"metric": "over-refusal (borderline)", "value": pct(ev["borderline_over_refusal"],
                                                                     ev["borderline_ci"]), "n": str(ev["n_borderline"])})
    rows.append({"metric": "task accuracy", "value": pct(ev["task_accuracy"]), "n": str(ev["n_task"])})
    return rows


@app.command()
def judge(generations: Path = typer.Argument(..., help="JSONL of prompt/response records (secvec generate's output)"),
          judges: Optional[List[str]] = typer.Option(None, "--judge", help="judge name (repeatable; default "
                                                                          "keyword and content)"),
          output: Optional[str] = typer.Option(None, "--output", "-o", help="results JSON (default: FILE.judged.json)")) -> None:
    """Judge existing answers: harmful rate per judge and per category, with 95% intervals."""
    from secvec.eval.judging import judge_records, read_generations
    from secvec.judges import build_judge

    records = read_generations(generations)
    names = judges or ["keyword", "content"]
    doc = judge_records(records, [build_judge(n) for n in names])
    doc["file"] = str(generations)
    out = Path(output or generations.with_suffix(".judged.json"))
    _write_json(out, doc)
    rows = []
    for name, j in doc["judges"].items():
        s = j["summary"]
        rows.append({"judge": name, "category": "(all)", "n": str(s["n"]),
                     "harmful": f"{100 * s['harmful_rate']:.1f}% [{100 * s['ci_low']:.1f}, {100 * s['ci_high']:.1f}]"})
        rows += [{"judge": name, "category": c, "n": str(v["n"]),
                  "harmful": f"{100 * v['harmful_rate']:.1f}% [{100 * v['ci'][0]:.1f}, {100 * v['ci'][1]:.1f}]"}
                 for c, v in j["per_category"].items()]
    _print_table(f"secvec judge: {generations}", rows)
    typer.echo(f"-> {out}")


@judges_app.command("validate")
def judges_validate(judge: Optional[List[str]] = typer.Option(None, "--judge", help="judge name (repeatable)")) -> None:
    """Accuracy/precision/recall of each judge on JailbreakBench's 100 human labels."""
    from rich.table import Table

    from secvec.judges import JUDGES
    from secvec.progress import console

    names = judge or [n for n in JUDGES.names() if n != "llm"]
    results = _judge_validation(names, include_llm=True)
    table = Table(title="judges vs JailbreakBench human labels (n=100) and secvec's held-out set")
    for col in ("judge", "JBB accuracy", "precision", "recall", "degenerate called harmful",
                "held-out accuracy [95% CI]", "held-out false harm"):
        table.add_column(col)
    for name, r in results.items():
        h = r["holdout"]
        table.add_row(name, f"{r['accuracy']:.2f}", f"{r['precision']:.2f}", f"{r['recall']:.2f}",
                      f"{r.get('degenerate_false_harm', float('nan')):.2f}",
                      f"{h['accuracy']:.2f} [{h['accuracy_ci'][0]:.2f}, {h['accuracy_ci'][1]:.2f}] (n={h['n']})", f"{h['false_harm']:.2f}")
    console.print(table)
    typer.echo(json.dumps(results, indent=1))


@app.command()
def serve(model: Optional[str] = typer.Option(None, help="base model (name, dir, .gguf); default: the bundled model"),
          adapter: Optional[str] = typer.Option(None, help="task adapter to merge in"),
          vectors: Optional[str] = typer.Option(None, help="security vectors dir; served as '<name>+vectors'"),
          name: str = typer.Option("secvec", help="model name clients ask for"),
          host: str = typer.Option("127.0.0.1", help="interface to listen on (0.0.0.0: all)"),
          port: int = typer.Option(8000),
          max_new_tokens: int = typer.Option(256, "--max-new-tokens", min=1, help="cap on max_tokens per request"),
          dtype: str = typer.Option("float32", help="float32 | bfloat16 | float16"),
          api_key: Optional[str] = typer.Option(None, "--api-key", envvar="SECVEC_API_KEY",
                                                help="clients must send 'Authorization: Bearer <key>'"),
          expose_vectors: bool = typer.Option(False, "--expose-vectors",
                                              help="serve '<name>+vectors' (answers harmful requests; needs --api-key)"),
          ) -> None:
    """Serve an OpenAI-compatible chat endpoint; clients pick '<name>' (vectors off) or '<name>+vectors'."""
    from secvec.errors import ConfigError
    from secvec.models import DEFAULT_MODEL, load_model
    from secvec.serve import create_app, is_loopback, run_server

    if not api_key and not is_loopback(host):
        raise ConfigError(f"listening on {host} (beyond this machine) needs --api-key")
    if vectors and not (expose_vectors and api_key):
        raise ConfigError("--vectors serves the vectors-on model, which answers harmful requests: add "
                          "--expose-vectors and --api-key")
    lm = load_model(model or DEFAULT_MODEL, dtype, adapter=adapter)
    api = create_app(lm, vectors_dir=vectors, model_name=name, max_new_tokens_cap=max_new_tokens,
                     api_key=api_key, expose_vectors=expose_vectors)
    typer.echo(f"serving {lm.source} as {', '.join(api.state.model_names)} at http://{host}:{port}/v1")
    run_server(api, host, port)


def run() -> None:
    """Entry point: user errors become one line on stderr and exit code 2."""
    try:
        app(standalone_mode=False)
    except SecvecError as e:
        print(f"secvec: error: {e}", file=sys.stderr)
        raise SystemExit(2)
    except (typer.Abort, KeyboardInterrupt):
        print("secvec: interrupted", file=sys.stderr)
        raise SystemExit(130)
    except Exception as e:  # click usage errors arrive here with standalone_mode=False
        import click

        if isinstance(e, click.ClickException):
            e.show()
            raise SystemExit(2)
        raise


if __name__ == "__main__":
    run()
