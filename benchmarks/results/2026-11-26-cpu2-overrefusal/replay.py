# Ran at commit 9cb8b71 (safety_mix.mix_in was reverted in 55b9eed after this measurement).
"""Does protected fine-tuning learn an update anti-aligned with the vectors (-> over-refusal with them off)?"""
import sys, json, time, copy, torch
torch.set_num_threads(1)
sys.path.insert(0, '/work/main/src')
import os; os.environ['SECVEC_CACHE'] = '/tmp/clone-v4/.cache-secvec'
from secvec.recipes.experiment import Experiment, ExperimentConfig
from secvec.config import load_config
from secvec.models.loading import load_model
from secvec.data.loading import load_examples
from secvec.vectors import protected_finetune
from secvec.vectors.core import SecurityVectors
mode = 'protected'; replay = float(sys.argv[1]); scale = 1.0
cfg = load_config(ExperimentConfig, '/tmp/clone-v4/configs/demo.yaml')
exp = Experiment(cfg)
with exp.cached_only():
    synth = exp.synthesize(); aligned = exp.align(synth); vst = exp.train_vectors(synth, aligned)
vec = SecurityVectors.load(vst.dir / 'vectors'); vec.scaling *= scale
plan = cfg.attacks['harmful'].model_copy(update={'type': 'harmful'})
ex = exp.attack_examples(synth, plan, 'harmful')
from secvec.defenses.safety_mix import mix_in
ex = mix_in(ex, load_examples(synth.dir / 'benign_pairs.jsonl'), replay, 0, 'none')
print(len(ex), flush=True)
lm = load_model(str(aligned.dir / 'model'))
w0 = {n: p.detach().clone() for n, p in lm.model.named_parameters()}
t = time.time()
model, res = protected_finetune(lm.model, lm.tokenizer, ex, plan.train, vec if mode == 'protected' else None)
print(mode, 'trained', time.time() - t, res.to_dict().get('final_loss'), flush=True)
out = {'replay': replay, 'final_loss': res.to_dict().get('final_loss')}
def ev(m, label):
    r, recs = exp.evaluate(m, lm.tokenizer, with_task=False)
    d = r.to_dict()
    out[label] = {'harmful': d['harm']['content']['harmful_rate'], 'benign': d['over_refusal'], 'borderline': d['borderline_over_refusal']}
    print(label, out[label], flush=True)
ev(model, 'as trained')
json.dump(out, open(f'/tmp/diag/replay_{replay}.json', 'w'), indent=1)
