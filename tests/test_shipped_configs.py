"""Every YAML in configs/ loads as the command that reads it would load it: a defense option that
was dropped, or a renamed field, fails here instead of hours into a matrix run."""

from pathlib import Path

import pytest

from secvec.cli import _experiment_config
from secvec.recipes.compare import CompareConfig
from secvec.recipes.experiment import ExperimentConfig
from secvec.recipes.immunize import ImmunizeConfig
from secvec.recipes.matrix import MatrixConfig

CONFIGS = Path(__file__).resolve().parents[1] / "configs"
READERS = {"demo.yaml": ExperimentConfig, "paper.yaml": ExperimentConfig, "compare.yaml": CompareConfig,
           "immunize.yaml": ImmunizeConfig, "matrix.yaml": MatrixConfig}


def test_every_shipped_config_has_a_reader():
    assert sorted(p.name for p in CONFIGS.glob("*.yaml")) == sorted(READERS)


@pytest.mark.parametrize("name", sorted(READERS))
def test_shipped_config_loads(name):
    cfg = _experiment_config(CONFIGS / name, [], "demo", None, READERS[name])
    assert isinstance(cfg, READERS[name])
    if name == "matrix.yaml":  # the defense rows build (unknown options fail in MatrixConfig's validation)
        assert [d.name for d in cfg.defenses][:2] == ["none", "security-vectors"] and len(cfg.defenses) == 15
        assert [d.name for d in cfg.defenses][-9:] == ["delta-vectors"] * 2 + ["security-vectors"] + ["routed-vectors"] * 6
        assert cfg.defenses[-8].options == {"project": "both"}
        assert cfg.defenses[-7].options == {"anchor": 1.0, "anchor_data": "recovery"}
        assert cfg.defenses[-5].options["provider_anchor_data"] == "recovery-sensitive"
        recipe = cfg.defenses[-4].options  # the recipe: the provider route's anchor, delta start, whole set
        assert recipe["provider_anchor_data"] == "recovery-sensitive" and recipe["adapt_from"] == "delta"
        guarded = cfg.defenses[-3].options  # the recipe with the clipped guard on its delta route
        assert guarded == {**recipe, "project": {"mode": "both", "radius": 0.3}}
        stack = cfg.defenses[-2].options  # and the provider's vectors stacked on that route
        assert stack == {**guarded, "stack_provider": 0.25}
        best = cfg.defenses[-1].options  # the best measured: and the guard on the whole stack
        assert best == {**stack, "guard_stack": True}
