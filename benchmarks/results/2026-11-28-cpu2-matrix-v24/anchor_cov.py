"""Which alignment refusals each seed's anchor rehearses, against the prompts that seed leaks."""
import json, random, sys, glob
from secvec.recipes.experiment import Experiment, ExperimentConfig
from secvec.recipes.provider import ExperimentInputs
import yaml
cfg = ExperimentConfig.model_validate({k: v for k, v in yaml.safe_load(open("/tmp/t24/runD/config.yaml")).items()
                                       if k in ExperimentConfig.model_fields})
exp = Experiment(cfg)
synth = exp.synthesize()
prov = ExperimentInputs(exp, synth, None)
pairs = prov.alignment_pairs()
print(len(pairs))
json.dump([{"prompt": p.prompt, "response": p.response} for p in pairs], open("/tmp/t24/alignment_pairs.json", "w"))
