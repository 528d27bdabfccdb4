"""`secvec immunize-report` and `secvec compare` end to end on the tiny model, through the CLI."""

import json
import sys

import pytest
import yaml

from secvec import cli

TRAIN = {"lr": 1e-3, "max_steps": 1, "batch_size": 2, "max_length": 512}


def tiny_yaml(tiny_dir, root, **extra):
    """An experiment the tiny model runs in seconds; jbb and harmbench are the two domains."""
    cfg = {
        "model": {"name": tiny_dir}, "cache_dir": str(root / "cache"),
        "data": {"train_sources": ["jbb", "harmbench"], "eval_sources": ["jbb"], "n_eval": 3,
                 "n_align_harmful": 6, "n_align_benign": 2, "n_vectors": 12, "n_vector_prompts": 12,
                 "n_attack_prompts": 12, "n_overrefusal": 2, "harmful_answer_tokens": 4, "benign_answer_tokens": 4},
        "align": TRAIN,
        "vectors": {"r": 2, "alpha": 8, "train": TRAIN},
        "attacks": {"harmful": {"n": 2, "train": TRAIN}, "benign": {"n": 2, "train": TRAIN}},
        "task": {"n_test": 2},
        "eval": {"judges": ["keyword"], "headline_judge": "keyword", "generation": {"max_new_tokens": 2}},
    }
    cfg.update(extra)
    path = root / "config.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def run_cli(monkeypatch, *args):
    monkeypatch.setattr(sys, "argv", ["secvec", *args])
    cli.run()


@pytest.fixture(scope="module")
def shared(tmp_path_factory):
    """One cache for both commands, as a user's runs would share it."""
    return tmp_path_factory.mktemp("immunize")


def test_immunize_report_end_to_end(monkeypatch, tiny_dir, shared):
    config = tiny_yaml(tiny_dir, shared, resistance={"n_harmful": [1, 2]},
                       stability={"n_heldout": 2},
                       generalization={"n_harmful": 1, "attack_sources": ["jbb"], "in_domain": ["jbb"],
                                       "cross_domain": ["harmbench"]},
                       trainability={"steps": [1, 2]}, seeds=[0, 1])
    out = shared / "immunize"
    run_cli(monkeypatch, "immunize-report", "-c", str(config), "-o", str(out))

    results = json.loads((out / "results.json").read_text())
    assert [v["condition"] for v in results["verdicts"]] == ["resistance", "stability", "generalization",
                                                              "trainability"]
    # The tiny random model never refuses, so the keyword judge calls every answer harmful: the aligned
    # reference is 100% and no attack can rise above it + 5 pts. So resistance and generalization are
    # inconclusive (the attacks broke nothing). Stability and trainability compare the same numbers
    # (the vectors are off before fine-tuning; the same task accuracy either way), but on 2-3 prompts
    # the interval of a zero change spans the 5-point limit: inconclusive, not pass.
    assert results["reference"] == {"harmful_rate": 1.0, "margin": 0.05}
    assert results["resistance"]["rates"] == {"vanilla": [1.0, 1.0], "defended": [1.0, 1.0]}
    assert all(set(d.values()) == {1.0} for d in results["generalization"]["domains"].values())
    acc = results["trainability"]["accuracy"]
    assert acc["defended"] == acc["vanilla"]
    verdicts = {v["condition"]: v for v in results["verdicts"]}
    assert {c: v["status"] for c, v in verdicts.items()} == {
        "resistance": "inconclusive", "stability": "inconclusive", "generalization": "inconclusive",
        "trainability": "inconclusive"}
    assert verdicts["resistance"]["details"]["vanilla_crossing"] is None
    assert verdicts["resistance"]["details"]["defended_crossing"] is None
    assert "budgets too small" in verdicts["resistance"]["measured"]
    assert verdicts["generalization"]["details"]["held"] == {"in-domain": True, "cross-domain": True}
    checks = verdicts["stability"]["details"]["checks"]
    assert all(c["change"] == 0 for name, c in checks.items() if name != "perplexity ratio")
    assert {name: c["side"] for name, c in checks.items()} == {
        "task accuracy drop": "spans", "harmful refusal drop": "spans", "over-refusal rise": "spans",
        "perplexity ratio": "below"}
    assert verdicts["trainability"]["details"]["drop"] == 0 and verdicts["trainability"]["details"]["side"] == "spans"
    assert [v["passed"] for v in results["verdicts"]] == [False, False, False, False]
    # two seeds: every fine-tuning point runs twice, with its own vectors, and the counts pool both
    points = results["resistance"]["points"]
    assert all(len(per_budget) == 2 for arm in points.values() for per_budget in arm)
    assert points["defended"][0][0]["defense_data"]["vectors"] != points["defended"][0][1]["defense_data"]["vectors"]
    assert [c["n"] for c in results["resistance"]["counts"]["defended"]] == [6, 6]  # 3 prompts x 2 seeds
    # security vectors are off before fine-tuning: the served model is the aligned one
    stab = results["stability"]
    assert stab["defended"]["eval"]["harm"] == stab["vanilla"]["eval"]["harm"]
    assert stab["defended"]["perplexity"] == pytest.approx(stab["vanilla"]["perplexity"])
    assert [b["n"] for b in results["resistance"]["budgets"]] == [1, 2]
    assert len(results["resistance"]["rates"]["defended"]) == 2
    assert points["defended"][0][0]["defense_data"]["vectors"] and not points["vanilla"][0][0]["defense_data"]
    gen = results["generalization"]["points"]
    assert gen["in-domain"][0]["defense_data"]["vectors"] != gen["cross-domain"][0]["defense_data"]["vectors"]
    assert {"vectors", "vectors (jbb) seed 0", "vectors (harmbench) seed 1"} <= set(results["timings"])
    assert results["trainability"]["steps"] == [0, 1, 2]
    assert len(results["trainability"]["accuracy"]["defended"]) == 3
    assert set(results["splits"]) >= {"eval", "train", "benign", "heldout_benign"}
    assert results["seeds"]["seed"] == 0 and "torch" in results["versions"]
    report = (out / "report.md").read_text()
    for section in ("## Summary", "## Resistance", "## Stability", "## Generalization", "## Trainability"):
        assert section in report
    assert (out / "resistance.png").stat().st_size > 1000 and (out / "trainability.png").stat().st_size > 1000
    assert yaml.safe_load((out / "config.yaml").read_text())["defense"]["name"] == "security-vectors"


def test_compare_end_to_end(monkeypatch, tiny_dir, shared):
    lisa = {"name": "lisa", "options": {"align_steps": 1, "user_steps": 1}}
    config = tiny_yaml(tiny_dir, shared, defenses=["none", {"name": "safety-mix", "options": {"ratio": 1.0}},
                                                   "security-vectors", lisa], seeds=[0, 1])
    out = shared / "compare"
    run_cli(monkeypatch, "compare", "-c", str(config), "-o", str(out))
    results = json.loads((out / "results.json").read_text())
    names = [c["name"] for c in results["columns"]]
    assert names[0] == "aligned" and len(names) == 1 + 2 * 4
    assert names[1:5] == ["harmful FT, none", "harmful FT, safety-mix (ratio=1.0)", "harmful FT, security-vectors",
                          "harmful FT, lisa (align_steps=1, user_steps=1)"]
    by_name = {c["name"]: c for c in results["columns"]}
    assert by_name["harmful FT, lisa (align_steps=1, user_steps=1)"]["train"]["steps"] == 2  # 1 align + 1 user
    assert by_name["benign FT, none"]["eval"]["task_accuracy"] is not None
    assert all("keyword" in c["eval"]["harm"] for c in results["columns"])
    # every fine-tuning row ran over both seeds (the aligned model is not fine-tuned: one run)
    protected = by_name["harmful FT, security-vectors"]
    assert [r["seed"] for r in protected["seeds"]] == [0, 1] and protected["spread"]["harmful_rate"]["n_seeds"] == 2
    assert "seeds" not in by_name["aligned"]
    report = (out / "report.md").read_text()
    assert "benign FT, security-vectors" in report and "train s/step" in report


@pytest.mark.parametrize("command,override,match", [
    ("immunize-report", "defense=nope", "unknown defense 'nope'; known: adaptive-vectors, delta-vectors, lisa, none, "
     "routed-vectors, safety-mix, security-vectors"),
    ("compare", "defenses=[none, nope]", "unknown defense 'nope'"),
    ("compare", "defenses=[{name: lisa, options: {bogus: 1}}]", "accepted options: align_steps, user_steps, rho"),
    ("compare", "run_attacks=[harmful, nope]", "run_attacks ['nope'] not defined"),
    ("immunize-report", "resistance.n_harmful=[500]", "raise attacks.harmful.n"),
    ("immunize-report", "generalization.cross_domain=[nowhere]", "not in data.train_sources"),
])
def test_bad_config_is_one_line(monkeypatch, capsys, command, override, match):
    monkeypatch.setattr(sys, "argv", ["secvec", command, "--set", override])
    with pytest.raises(SystemExit) as exit_info:
        cli.run()
    err = capsys.readouterr().err
    assert exit_info.value.code == 2
    assert err.count("\n") == 1 and err.startswith("secvec: error:") and match in err


def test_too_few_domain_attack_pairs_fail_before_any_fine_tuning(monkeypatch, capsys, tiny_dir, shared):
    # the tiny synthesis gives 2 attack pairs, one of them from jbb
    config = tiny_yaml(tiny_dir, shared, resistance={"n_harmful": [1]},
                       generalization={"n_harmful": 2, "attack_sources": ["jbb"],
                                       "in_domain": ["jbb"], "cross_domain": ["harmbench"]})
    monkeypatch.setattr(sys, "argv", ["secvec", "immunize-report", "-c", str(config), "-o", str(shared / "x")])
    with pytest.raises(SystemExit) as exit_info:
        cli.run()
    err = capsys.readouterr().err
    assert exit_info.value.code == 2 and "generalization.n_harmful=2 but only 1 synthesized attack pairs" in err
