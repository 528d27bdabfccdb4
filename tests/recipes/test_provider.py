"""The provider's data as an experiment's cached stages hand them to a defense."""

from secvec.data.builtin import sensitive_prompts
from secvec.recipes.experiment import Experiment
from secvec.recipes.provider import ExperimentInputs
from tests.recipes.test_experiment import tiny_config


def test_sensitive_topic_answers_are_the_base_models_own_in_a_stage_drawn_only_on_demand(tiny_dir, tmp_path):
    exp = Experiment(tiny_config(tiny_dir, tmp_path))
    synth = exp.synthesize()
    inputs = ExperimentInputs(exp, synth, exp.align(synth))
    assert "sensitive_pairs" not in inputs.used and "sensitive-topic answers" not in exp.timings
    pairs = inputs.sensitive_pairs()
    assert [e.prompt for e in pairs] == [p.text for p in sensitive_prompts()]
    assert all(e.response for e in pairs)
    # recorded in the point's key, and computed once
    assert inputs.used["sensitive_pairs"] == exp.timings["sensitive-topic answers"]["key"]
    assert not exp.timings["sensitive-topic answers"]["cached"]
    again = Experiment(tiny_config(tiny_dir, tmp_path))
    assert ExperimentInputs(again, synth, exp.align(synth)).sensitive_pairs() == pairs
    assert again.timings["sensitive-topic answers"]["cached"]
