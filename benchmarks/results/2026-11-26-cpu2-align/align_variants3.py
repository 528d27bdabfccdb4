"""Aligned reference variants: harmful / borderline / plain-benign over-refusal on one eval set."""
import sys, json, time, torch
torch.set_num_threads(1)
sys.path.insert(0, '/tmp/snapA/src')
from secvec.recipes.experiment import Experiment, ExperimentConfig
from secvec.config import load_config
from secvec.models.loading import load_model
out = {}
def ev(exp, path, name):
    lm = load_model(path)
    t = time.time()
    res, recs = exp.evaluate(lm.model, lm.tokenizer, with_task=False)
    d = res.to_dict()
    out[name] = {k: d[k] for k in d if k in ('harmful', 'overrefusal', 'borderline', 'rates', 'judges')} or d
    out[name]["refused_benign"] = [r["prompt"] for r in recs if r["kind"] == "benign" and r.get("refused")]
    json.dump(out, open(f'/tmp/align_variants_{_s.argv[1]}.json', 'w'), indent=1)
    print(name, 'eval', time.time() - t, flush=True)
base = load_config(ExperimentConfig, 'configs/demo.yaml', ['data.n_overrefusal=44'])
exp = Experiment(base)
import sys as _s
VARS={'e': ('2 epochs lr 1e-4, 100/120', ['align.epochs=2']), 'f': ('lr 3e-4, 100/120', ['align.lr=3e-4'])}
for name, over in [VARS[_s.argv[1]]]:
    cfg = load_config(ExperimentConfig, 'configs/demo.yaml', ['data.n_overrefusal=44'] + over)
    e = Experiment(cfg)
    synth = e.synthesize(); al = e.align(synth)
    print(name, al.key, al.info.get('seconds'), flush=True)
    ev(exp, str(al.dir / 'model'), f'{name} ({al.key})')
