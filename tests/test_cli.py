"""The CLI as a user meets it: real subprocess-free invocations of `secvec.cli.run`."""

import json
import sys

import pytest
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


def test_vectors_finetune_generate_export_roundtrip(monkeypatch, capsys, tmp_path, tiny_dir):
    harmful = tmp_path / "harmful.jsonl"
    harmful.write_text("".join(json.dumps({"prompt": f"bad {i}?", "response": f"Sure, bad {i}."}) + "\n" for i in range(6)))
    benign = tmp_path / "benign.jsonl"
    benign.write_text("".join(json.dumps({"prompt": f"{i}+1?", "response": f"{i + 1}"}) + "\n" for i in range(6)))
    train = ["--set", "vectors.train.max_steps=2", "--set", "vectors.train.max_length=256", "--set", f"benign={benign}"]
    out = ok(monkeypatch, capsys, "vectors", "train", "--model", tiny_dir, "--harmful", str(harmful),
             "-o", str(tmp_path / "vec"), *train)
    assert "security vectors ->" in out and (tmp_path / "vec" / "adapter_model.safetensors").exists()
    cfg = tmp_path / "ft.yaml"
    cfg.write_text(yaml.safe_dump({"train": {"mode": "lora", "max_steps": 2, "max_length": 256,
                                             "lora": {"r": 2, "target_modules": ["q_proj"]}}}))
    out = ok(monkeypatch, capsys, "finetune", "-c", str(cfg), "--model", tiny_dir, "--data", str(benign),
             "--vectors", str(tmp_path / "vec"), "-o", str(tmp_path / "ft"))
    assert "vectors are off" in out
    assert (tmp_path / "ft" / "model" / "adapter_config.json").exists()
    assert yaml.safe_load((tmp_path / "ft" / "config.yaml").read_text())["vectors"] == str(tmp_path / "vec")
    prompts = tmp_path / "p.txt"
    prompts.write_text("hello\nworld\n")
    ok(monkeypatch, capsys, "generate", "--model", tiny_dir, "--adapter", str(tmp_path / "ft" / "model"),
       "--prompts", str(prompts), "-o", str(tmp_path / "gen.jsonl"), "--set", "generation.max_new_tokens=3")
    rows = [json.loads(line) for line in (tmp_path / "gen.jsonl").read_text().splitlines()]
    assert [r["prompt"] for r in rows] == ["hello", "world"]
    out = ok(monkeypatch, capsys, "export", "--model", tiny_dir, "--adapter", str(tmp_path / "ft" / "model"),
             "-o", str(tmp_path / "merged"))
    assert (tmp_path / "merged" / "model.safetensors").exists()


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
