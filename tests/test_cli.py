"""The CLI as a user meets it: real subprocess-free invocations of `secvec.cli.run`."""

import json
import sys
from pathlib import Path

import pytest
import torch
import yaml

from secvec import cli


def run_cli(monkeypatch, capsys, *args):
    monkeypatch.setattr(sys, "argv", ["secvec", *args])
    with pytest.raises(SystemExit) as exit_info:
        cli.run()
    out = capsys.readouterr()
    return exit_info.value.code, out.out, out.err


def ok(monkeypatch, capsys, *args):
    monkeypatch.setattr(sys, "argv", ["secvec", *args])
    cli.run()
    return capsys.readouterr().out


@pytest.mark.parametrize("args,match", [
    (["finetune", "--data", "missing.jsonl"], "missing.jsonl: file not found"),
    (["finetune", "--config", "nope.yaml"], "config file not found: nope.yaml"),
    (["finetune", "--data", "x.jsonl", "--set", "train.lr=fast"], "train.lr: Input should be a valid number"),
    (["finetune", "--data", "x.jsonl", "--set", "train.bogus=1"], "train.bogus: Extra inputs are not permitted"),
    (["demo", "--scale", "huge"], "unknown scale 'huge'"),
])
def test_bad_input_is_one_line_exit_2(monkeypatch, capsys, args, match):
    code, _, err = run_cli(monkeypatch, capsys, *args)
    assert code == 2
    assert err.count("\n") == 1 and err.startswith("secvec: error:") and match in err


def test_unknown_model_and_bad_jsonl(monkeypatch, capsys, tmp_path):
    data = tmp_path / "d.jsonl"
    data.write_text('{"prompt": "a", "response": "b"}\n')
    code, _, err = run_cli(monkeypatch, capsys, "finetune", "--data", str(data), "--model", "./nowhere/model")
    assert code == 2 and "unknown model" in err
    data.write_text('{"prompt": "a", "response": "b"}\n{oops\n')
    code, _, err = run_cli(monkeypatch, capsys, "finetune", "--data", str(data))
    assert code == 2 and "d.jsonl:2: bad JSON" in err


def cli_vectors(monkeypatch, capsys, tmp_path, tiny_dir):
    """Security vectors trained through the CLI; returns their dir and the benign data file."""
    harmful = tmp_path / "harmful.jsonl"
    harmful.write_text("".join(json.dumps({"prompt": f"bad {i}?", "response": f"Sure, bad {i}."}) + "\n" for i in range(6)))
    benign = tmp_path / "benign.jsonl"
    benign.write_text("".join(json.dumps({"prompt": f"{i}+1?", "response": f"{i + 1}"}) + "\n" for i in range(6)))
    train = ["--set", "vectors.train.max_steps=2", "--set", "vectors.train.lr=1e-2", "--set", "vectors.train.max_length=256",
             "--set", f"benign={benign}"]
    out = ok(monkeypatch, capsys, "vectors", "train", "--model", tiny_dir, "--harmful", str(harmful),
             "-o", str(tmp_path / "vec"), *train)
    assert "security vectors ->" in out and (tmp_path / "vec" / "adapter_model.safetensors").exists()
    return tmp_path / "vec", benign


def python_finetune(tiny_dir, ft_dir, vectors, method="active"):
    """The fine-tune `secvec finetune` ran (its saved config), redone in Python; by default on the
    reference path that keeps the vectors in a frozen PEFT adapter and deletes it afterwards, which
    shares no add/subtract code with the CLI's default merged path. `vectors=None`: vanilla. The saved
    config's subspace guard (`project`) applies to a protected run as it did in the CLI."""
    from secvec.config import FinetuneCommand
    from secvec.data.loading import load_examples
    from secvec.models.loading import load_model
    from secvec.vectors import protected_finetune

    cfg = FinetuneCommand.model_validate(yaml.safe_load((ft_dir / "config.yaml").read_text()))
    torch.manual_seed(0)  # as before the CLI run: the task LoRA's initialization
    lm = load_model(tiny_dir)
    model, _ = protected_finetune(lm.model, lm.tokenizer, load_examples(cfg.data), cfg.train, vectors, method,
                                  project=cfg.project if vectors is not None else None)
    return model


def vector_deltas(vectors):
    deltas = {f"{name}.weight": vectors.delta(name) for name in vectors.lora_a}
    assert min(d.abs().max().item() for d in deltas.values()) > 1e-3  # far above the tolerances used with them
    return deltas


def test_vectors_finetune_generate_export_roundtrip(monkeypatch, capsys, tmp_path, tiny_dir):
    from peft import get_peft_model_state_dict
    from safetensors.torch import load_file

    from secvec.vectors import SecurityVectors

    vec_dir, benign = cli_vectors(monkeypatch, capsys, tmp_path, tiny_dir)
    vectors = SecurityVectors.load(vec_dir)
    cfg = tmp_path / "ft.yaml"
    cfg.write_text(yaml.safe_dump({"train": {"mode": "lora", "max_steps": 2, "max_length": 256,
                                             "lora": {"r": 2, "target_modules": ["q_proj"]}}}))
    torch.manual_seed(0)
    out = ok(monkeypatch, capsys, "finetune", "-c", str(cfg), "--model", tiny_dir, "--data", str(benign),
             "--vectors", str(vec_dir), "-o", str(tmp_path / "ft"))
    assert "vectors are off" in out
    assert yaml.safe_load((tmp_path / "ft" / "config.yaml").read_text())["vectors"] == str(vec_dir)
    # the saved task adapter is the one trained beside the vectors (a vanilla run trains another),
    # and it is only the task adapter: the vectors' own A/B are not in it
    adapter_dir = tmp_path / "ft" / "model"
    saved = load_file(str(adapter_dir / "adapter_model.safetensors"))
    protected = get_peft_model_state_dict(python_finetune(tiny_dir, tmp_path / "ft", vectors))
    vanilla = get_peft_model_state_dict(python_finetune(tiny_dir, tmp_path / "ft", None))
    assert saved.keys() == protected.keys() and len(saved) == 4  # q_proj A and B in each of 2 layers
    for k in saved:
        torch.testing.assert_close(saved[k], protected[k], rtol=1e-4, atol=1e-6)
    assert any(not torch.allclose(saved[k], vanilla[k], rtol=1e-4, atol=1e-6) for k in saved)
    adapter_cfg = json.loads((adapter_dir / "adapter_config.json").read_text())
    assert adapter_cfg["r"] == 2 and not adapter_cfg.get("use_rslora")

    prompts = tmp_path / "p.txt"
    prompts.write_text("hello\nworld\n")
    ok(monkeypatch, capsys, "generate", "--model", tiny_dir, "--adapter", str(adapter_dir),
       "--prompts", str(prompts), "-o", str(tmp_path / "gen.jsonl"), "--set", "generation.max_new_tokens=3")
    rows = [json.loads(line) for line in (tmp_path / "gen.jsonl").read_text().splitlines()]
    assert [r["prompt"] for r in rows] == ["hello", "world"]
    out = ok(monkeypatch, capsys, "export", "--model", tiny_dir, "--adapter", str(adapter_dir),
             "-o", str(tmp_path / "merged"))
    # the merged export is the base plus the task adapter's B @ A * alpha / r, and no vector delta
    merged = load_file(str(tmp_path / "merged" / "model.safetensors"))
    base = load_file(str(next(Path(tiny_dir).glob("*.safetensors"))))
    scaling = adapter_cfg["lora_alpha"] / adapter_cfg["r"]
    expected = dict(base)
    for k in saved:
        if ".lora_A." in k:
            name = k.replace("base_model.model.", "").replace(".lora_A.weight", ".weight")
            b = saved[k.replace(".lora_A.", ".lora_B.")]
            expected[name] = base[name] + (b @ saved[k]) * scaling
    assert merged.keys() == expected.keys()
    for k in merged:
        torch.testing.assert_close(merged[k], expected[k], rtol=1e-5, atol=1e-6)
    assert any(not torch.equal(merged[k], base[k]) for k in merged)  # the task adapter did train
    for k, delta in vector_deltas(vectors).items():
        assert (merged[k] - (expected[k] + delta)).abs().max() > 0.5 * delta.abs().max(), k


def test_full_finetune_saves_the_weights_with_the_vectors_off(monkeypatch, capsys, tmp_path, tiny_dir):
    """`secvec finetune` (full): the saved weights are the fine-tune's, vectors subtracted, from disk."""
    from safetensors.torch import load_file

    from secvec.vectors import SecurityVectors

    vec_dir, benign = cli_vectors(monkeypatch, capsys, tmp_path, tiny_dir)
    vectors = SecurityVectors.load(vec_dir)
    cfg = tmp_path / "ft.yaml"
    cfg.write_text(yaml.safe_dump({"train": {"mode": "full", "lr": 1e-3, "max_steps": 2, "max_length": 256}}))
    ok(monkeypatch, capsys, "finetune", "-c", str(cfg), "--model", tiny_dir, "--data", str(benign),
       "--vectors", str(vec_dir), "-o", str(tmp_path / "ft"))
    saved = load_file(str(tmp_path / "ft" / "model" / "model.safetensors"))
    reference = python_finetune(tiny_dir, tmp_path / "ft", vectors).state_dict()
    vanilla = python_finetune(tiny_dir, tmp_path / "ft", None).state_dict()
    base = load_file(str(next(Path(tiny_dir).glob("*.safetensors"))))
    assert saved.keys() == base.keys()
    for k in saved:
        torch.testing.assert_close(saved[k], reference[k], rtol=1e-4, atol=1e-6)
    assert any(not torch.allclose(saved[k], vanilla[k], rtol=1e-4, atol=1e-6) for k in saved)  # it was protected
    for k, delta in vector_deltas(vectors).items():  # vectors left on would put a whole delta in
        assert (saved[k] - (reference[k] + delta)).abs().max() > 0.5 * delta.abs().max(), k
        assert not torch.equal(saved[k], base[k]), k  # and it did fine-tune


def test_finetune_with_an_anchor_trains_what_the_python_api_trains(monkeypatch, capsys, tmp_path, tiny_dir):
    from safetensors.torch import load_file

    from secvec.config import FinetuneCommand
    from secvec.data.loading import load_examples
    from secvec.models.loading import load_model
    from secvec.vectors import SecurityVectors, protected_finetune
    from secvec.vectors.protect import VectorsOffAnchor

    vec_dir, benign = cli_vectors(monkeypatch, capsys, tmp_path, tiny_dir)
    safe = tmp_path / "safe.jsonl"
    safe.write_text("".join(json.dumps({"prompt": f"Say {i}.", "response": f"{i}."}) + "\n" for i in range(5)))
    code, _, err = run_cli(monkeypatch, capsys, "finetune", "--model", tiny_dir, "--data", str(benign),
                           "--anchor", str(safe))
    assert code == 2 and "--anchor needs --vectors" in err
    settings = ["--set", "train.mode=full", "--set", "train.max_steps=2", "--set", "train.lr=1e-3"]
    # anchor_cover with a batch of 1: 2 steps must rehearse all 5 pairs, so 3 a step.
    covered = ["--anchor", str(safe), "--set", "anchor_batch=1", "--set", "anchor_cover=true"]
    for name, anchor in (("plain", []), ("anchored", ["--anchor", str(safe)]), ("covered", covered)):
        ok(monkeypatch, capsys, "finetune", "--model", tiny_dir, "--data", str(benign), "--vectors", str(vec_dir),
           *anchor, *settings, "-o", str(tmp_path / name))
    plain = load_file(str(tmp_path / "plain" / "model" / "model.safetensors"))
    for name, batch in (("anchored", 4), ("covered", 3)):
        saved = load_file(str(tmp_path / name / "model" / "model.safetensors"))
        cfg = FinetuneCommand.model_validate(yaml.safe_load((tmp_path / name / "config.yaml").read_text()))
        lm, vectors = load_model(tiny_dir), SecurityVectors.load(vec_dir)
        reg = VectorsOffAnchor(lm.tokenizer, load_examples(str(safe)), vectors, 1.0, batch, cfg.train)
        want, _ = protected_finetune(lm.model, lm.tokenizer, load_examples(cfg.data), cfg.train, vectors,
                                     regularizer=reg)
        reference = want.state_dict()
        for k in saved:
            torch.testing.assert_close(saved[k], reference[k], rtol=1e-4, atol=1e-6, msg=f"{name}: {k}")
        assert any(not torch.allclose(saved[k], plain[k], rtol=1e-4, atol=1e-6) for k in saved)


def test_finetune_with_the_clipped_guard_trains_what_the_python_api_trains(monkeypatch, capsys, tmp_path, tiny_dir):
    """`project` reaches the job from YAML/--set: the saved weights are the Python API's clipped job, not the
    plain protected one, and the job records the part it clipped."""
    from safetensors.torch import load_file

    from secvec.config import FinetuneCommand
    from secvec.vectors import SecurityVectors

    vec_dir, benign = cli_vectors(monkeypatch, capsys, tmp_path, tiny_dir)
    base = ["finetune", "--model", tiny_dir, "--data", str(benign)]
    code, _, err = run_cli(monkeypatch, capsys, *base, "--vectors", str(vec_dir), "--set", "project=sideways")
    assert code == 2 and "finetune: project must be one of core, left, both, got 'sideways'" in err
    code, _, err = run_cli(monkeypatch, capsys, *base, "--set", "project=both")
    assert code == 2 and "project needs --vectors" in err
    settings = ["--set", "train.mode=full", "--set", "train.max_steps=2", "--set", "train.lr=1e-3"]
    clip = ["--set", "project.mode=both", "--set", "project.radius=0.01"]
    ok(monkeypatch, capsys, *base, "--vectors", str(vec_dir), *settings, "-o", str(tmp_path / "plain"))
    out = ok(monkeypatch, capsys, *base, "--vectors", str(vec_dir), *settings, *clip, "-o", str(tmp_path / "clipped"))
    peak = json.loads((tmp_path / "clipped" / "results.json").read_text())["train"]["extra"]["guard_peak"]
    assert peak > 0.01 and f"was {peak:.3f} of their norm, clipped at 0.01" in out  # the clip acted
    cfg = FinetuneCommand.model_validate(yaml.safe_load((tmp_path / "clipped" / "config.yaml").read_text()))
    assert cfg.project == {"mode": "both", "radius": 0.01}
    reference = python_finetune(tiny_dir, tmp_path / "clipped", SecurityVectors.load(vec_dir)).state_dict()
    saved = load_file(str(tmp_path / "clipped" / "model" / "model.safetensors"))
    plain = load_file(str(tmp_path / "plain" / "model" / "model.safetensors"))
    for k in saved:
        torch.testing.assert_close(saved[k], reference[k], rtol=1e-4, atol=1e-6, msg=k)
    assert any(not torch.allclose(saved[k], plain[k], rtol=1e-4, atol=1e-6) for k in saved)


def test_finetune_with_stacked_vectors_trains_under_their_sum_guarded_by_the_first(monkeypatch, capsys, tmp_path,
                                                                                    tiny_dir):
    """`--stack` (the delta route of the shipped matrix row, outside the matrix): the job trains under
    `vectors` + `stack_scale` x `stack` and the guard acts on `vectors` alone (with `guard_stack` on the
    sum), as the Python API does."""
    from safetensors.torch import load_file

    from secvec.config import FinetuneCommand
    from secvec.data.loading import load_examples
    from secvec.models.loading import load_model
    from secvec.vectors import SecurityVectors, protected_finetune, stacked

    vec_dir, benign = cli_vectors(monkeypatch, capsys, tmp_path, tiny_dir)
    base = ["finetune", "--model", tiny_dir, "--data", str(benign)]
    code, _, err = run_cli(monkeypatch, capsys, *base, "--stack", str(vec_dir))
    assert code == 2 and "--stack needs --vectors and the merge protection" in err
    other = tmp_path / "other"  # a second set: the same vectors trained from another seed
    ok(monkeypatch, capsys, "vectors", "train", "--model", tiny_dir, "--harmful", str(tmp_path / "harmful.jsonl"),
       "-o", str(other), "--set", "vectors.train.max_steps=2", "--set", "vectors.train.lr=1e-2",
       "--set", "vectors.train.seed=7", "--set", f"benign={benign}")
    settings = ["--set", "train.mode=full", "--set", "train.max_steps=2", "--set", "train.lr=1e-3",
                "--set", "project.mode=both", "--set", "project.radius=0.01", "--set", "stack_scale=0.5"]
    code, _, err = run_cli(monkeypatch, capsys, *base, "--vectors", str(vec_dir), "--set", "guard_stack=true",
                           *settings[:-2], "-o", str(tmp_path / "g0"))
    assert code == 2 and "guard_stack needs --stack and project" in err
    ok(monkeypatch, capsys, *base, "--vectors", str(vec_dir), "--stack", str(other), *settings, "-o", str(tmp_path / "s"))
    assert json.loads((tmp_path / "s" / "results.json").read_text())["stack"] == {"vectors": str(other), "scale": 0.5,
                                                                                 "guarded": False}
    ok(monkeypatch, capsys, *base, "--vectors", str(vec_dir), "--stack", str(other), *settings,
       "--set", "guard_stack=true", "-o", str(tmp_path / "g"))
    on_stack = load_file(str(tmp_path / "g" / "model" / "model.safetensors"))
    saved = load_file(str(tmp_path / "s" / "model" / "model.safetensors"))
    cfg = FinetuneCommand.model_validate(yaml.safe_load((tmp_path / "s" / "config.yaml").read_text()))
    v, w = SecurityVectors.load(vec_dir), SecurityVectors.load(other)

    def by_hand(forward, guard):
        lm = load_model(tiny_dir)
        model, _ = protected_finetune(lm.model, lm.tokenizer, load_examples(cfg.data), cfg.train, forward,
                                      project=cfg.project, guard=guard)
        return model.state_dict()

    def same(a, b) -> bool:
        return all(torch.allclose(a[k], b[k], rtol=1e-4, atol=1e-6) for k in a)

    under = stacked(v, w.scaled(0.5))
    on_vectors, on_sum = by_hand(under, v), by_hand(under, None)  # no guard given: the forward vectors are it
    assert same(saved, on_vectors) and not same(saved, on_sum)  # the guard is on --vectors, not on the sum
    assert same(on_stack, on_sum) and not same(on_stack, on_vectors)  # ... unless guard_stack puts it there
    assert not same(saved, by_hand(v, v))  # the stack took part


def test_experiment_config_precedence(tmp_path):
    """profile < YAML file < --set < --output-dir, for demo, compare and immunize-report alike."""
    path = tmp_path / "exp.yaml"
    path.write_text(yaml.safe_dump({"seed": 3, "data": {"n_eval": 7}, "output_dir": "from-yaml"}))
    cfg = cli._experiment_config(path, ["data.n_eval=9"], "paper", None)
    assert (cfg.seed, cfg.data.n_eval, cfg.output_dir) == (3, 9, "from-yaml")
    assert cfg.attacks["harmful"].n == 1000 and "benign" in cfg.attacks  # profile on the full defaults
    assert cli._experiment_config(path, [], "demo", "cli-dir").output_dir == "cli-dir"


def test_partial_attack_settings_keep_the_other_defaults(tmp_path):
    """A --set or YAML entry for one attack field must not replace the `attacks` mapping."""
    from secvec.recipes.experiment import ExperimentConfig

    defaults = ExperimentConfig().attacks
    path = tmp_path / "exp.yaml"
    path.write_text(yaml.safe_dump({"attacks": {"harmful": {"n": 50}}}))
    for cfg in (cli._experiment_config(None, ["attacks.benign.train.seed=3"], "demo", None),
                cli._experiment_config(path, ["attacks.benign.train.seed=3"], "demo", None)):
        benign = cfg.attacks["benign"].train
        assert benign.seed == 3
        assert benign.model_dump(exclude={"seed"}) == defaults["benign"].train.model_dump(exclude={"seed"})
        assert "harmful" in cfg.attacks
    assert cfg.attacks["harmful"].n == 50
    assert cfg.attacks["harmful"].train == defaults["harmful"].train


def test_vectors_delta_writes_a_peft_adapter_that_undoes_the_alignment(monkeypatch, capsys, tmp_path, tiny_dir):
    from peft import PeftModel

    from secvec.models.loading import load_model
    from secvec.vectors import SecurityVectors

    from tests.defenses.test_delta_vectors import _aligned

    before = load_model(tiny_dir)
    _aligned(before.model).save_pretrained(tmp_path / "aligned")
    before.tokenizer.save_pretrained(tmp_path / "aligned")
    out = ok(monkeypatch, capsys, "vectors", "delta", "--model", str(tmp_path / "aligned"), "--before", tiny_dir,
             "--rank", "10000", "-o", str(tmp_path / "delta"))
    assert "alignment-delta vectors ->" in out
    assert SecurityVectors.load(tmp_path / "delta").meta["kind"] == "alignment-delta"
    # plain PEFT loads the files; with the adapter merged, every target layer is the pre-alignment one
    merged = PeftModel.from_pretrained(load_model(str(tmp_path / "aligned")).model, str(tmp_path / "delta")).merge_and_unload()
    want = dict(before.model.named_parameters())
    targets = [n for n, _ in merged.named_parameters() if n.endswith("proj.weight")]
    assert targets and all(torch.allclose(dict(merged.named_parameters())[n], want[n], atol=1e-5) for n in targets)
    code, _, err = run_cli(monkeypatch, capsys, "vectors", "delta", "--model", str(tmp_path / "aligned"),
                           "--before", "./nowhere/model", "-o", str(tmp_path / "x"))
    assert code == 2 and err.count("\n") == 1 and "unknown model" in err


def test_data_recovery_writes_an_anchor_file_finetune_reads(monkeypatch, capsys, tmp_path):
    from secvec.data.loading import load_examples

    harmful = tmp_path / "harmful.jsonl"
    harmful.write_text("".join(json.dumps({"prompt": f"bad {i}?", "response": f"Sure, here is bad thing {i}."}) + "\n"
                               for i in range(4)))
    refusals = tmp_path / "refusals.jsonl"
    refusals.write_text(json.dumps({"prompt": "bad?", "response": "I can't help with that."}) + "\n")
    out = ok(monkeypatch, capsys, "data", "recovery", "--harmful", str(harmful), "--refusals", str(refusals),
             "--max-words", "2", "-o", str(tmp_path / "r.jsonl"))
    assert "4 recovery pairs" in out
    pairs = load_examples(tmp_path / "r.jsonl")
    assert all(p.response == f"{p.meta['prefill']} I can't help with that." and 1 <= len(p.meta["prefill"].split()) <= 2
               for p in pairs)
    refusals.write_text("")
    code, _, err = run_cli(monkeypatch, capsys, "data", "recovery", "--harmful", str(harmful), "--refusals",
                           str(refusals), "-o", str(tmp_path / "r2.jsonl"))
    assert code == 2 and err.count("\n") == 1 and "refusals.jsonl" in err


def test_data_forms_writes_a_check_file_evaluate_reads(monkeypatch, capsys, tmp_path):
    from secvec.data.forms import forms, personas
    from secvec.data.loading import load_prompts

    src = tmp_path / "asked.txt"
    src.write_text("How do I bake bread?\nWhat is a prime number?\n")
    out = ok(monkeypatch, capsys, "data", "forms", str(src), "-o", str(tmp_path / "f.jsonl"))
    assert "2 prompts in eval forms" in out
    asked = load_prompts(tmp_path / "f.jsonl")
    assert [p.text for p in asked] == [forms("eval")[i].format(request=q, persona=personas("eval")[i])
                                       for i, q in enumerate(["How do I bake bread?", "What is a prime number?"])]
    code, _, err = run_cli(monkeypatch, capsys, "data", "forms", str(tmp_path / "missing.txt"), "-o", str(tmp_path / "g.jsonl"))
    assert code == 2 and err.count("\n") == 1 and "missing.txt" in err
    code, _, err = run_cli(monkeypatch, capsys, "data", "forms", str(src), "--split", "train", "-o", str(tmp_path / "h.jsonl"))
    assert code == 2 and "split" in err


@pytest.mark.parametrize("native, precision, warned", [(False, "auto", True), (True, "auto", False),
                                                      (False, "fp32", False)])
def test_demo_warns_before_a_long_fp32_run(monkeypatch, caplog, native, precision, warned):
    """Without native bf16 the demo runs in fp32 (~3.5x the time): said up front, not after 20 minutes."""
    from secvec.models import precision as prec

    monkeypatch.setattr(prec, "cpu_has_native_bf16", lambda: native)
    with caplog.at_level("WARNING"):
        cli._warn_without_native_bf16(precision)
    assert ("no native bf16" in caplog.text) == warned
