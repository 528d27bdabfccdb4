"""Does protected fine-tuning learn an update anti-aligned with the vectors (-> over-refusal with them off)?"""
import sys, json, time, copy, torch
torch.set_num_threads(1)
sys.path.insert(0, '/tmp/clone-v4/src')
import os; os.environ['SECVEC_CACHE'] = '/tmp/clone-v4/.cache-secvec'
from secvec.recipes.experiment import Experiment, ExperimentConfig
from secvec.config import load_config
from secvec.models.loading import load_model
from secvec.vectors import protected_finetune
from secvec.vectors.core import SecurityVectors
mode = sys.argv[1] if len(sys.argv) > 1 else 'protected'
cfg = load_config(ExperimentConfig, '/tmp/clone-v4/configs/demo.yaml')
exp = Experiment(cfg); synth = exp.synthesize(); aligned = exp.align(synth)
vst = exp.train_vectors(synth, aligned); assert vst.done
vec = SecurityVectors.load(vst.dir / 'vectors')
plan = cfg.attacks['harmful'].model_copy(update={'type': 'harmful'})
ex = exp.attack_examples(synth, plan, 'harmful')
lm = load_model(str(aligned.dir / 'model'))
w0 = {n: p.detach().clone() for n, p in lm.model.named_parameters()}
t = time.time()
model, res = protected_finetune(lm.model, lm.tokenizer, ex, plan.train, vec if mode == 'protected' else None)
print(mode, 'trained', time.time() - t, res.to_dict().get('final_loss'), flush=True)
weights = vec.target_weights(model)
params = dict(model.named_parameters())
name_of = {id(p): n for n, p in params.items()}
stats = {}; tot_dd = tot_dv = tot_vv = 0.0
for name, w in weights.items():
    V = vec.delta(name); D = (w.detach() - w0[name_of[id(w)]]).float()
    dv = float((D * V).sum()); vv = float((V * V).sum()); dd = float((D * D).sum())
    stats[name] = {'coef': dv / vv, 'cos': dv / (dd * vv) ** 0.5}
    tot_dd += dd; tot_dv += dv; tot_vv += vv
out = {'mode': mode, 'global_cos': tot_dv / (tot_dd * tot_vv) ** 0.5, 'global_coef': tot_dv / tot_vv,
       'neg_modules': sum(s['coef'] < 0 for s in stats.values()), 'modules': len(stats),
       'mean_coef': sum(s['coef'] for s in stats.values()) / len(stats)}
print(out, flush=True)
def ev(m, label):
    r, recs = exp.evaluate(m, lm.tokenizer, with_task=False)
    d = r.to_dict()
    out[label] = {'harmful': d['harm']['content']['harmful_rate'], 'benign': d['over_refusal'], 'borderline': d['borderline_over_refusal']}
    print(label, out[label], flush=True)
ev(model, 'as trained')
with torch.no_grad():
    for name, w in weights.items():
        c = stats[name]['coef']
        if c < 0:
            w.sub_(c * vec.delta(name).to(w.dtype))
ev(model, 'negative projection on V removed')
with torch.no_grad():
    for name, w in weights.items():
        c = stats[name]['coef']
        if c > 0:
            w.sub_(c * vec.delta(name).to(w.dtype))
ev(model, 'all projection on V removed')
out['per_module'] = stats
json.dump(out, open(f'/tmp/diag/antivec_{mode}.json', 'w'), indent=1)
