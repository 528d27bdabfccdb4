#!/bin/bash
# device call 1 of 3: Python wheels, first third of the data, the GPU test
set -u
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader; lscpu | grep 'Model name'; nproc; python3 -V
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .dev/whl/*.whl || exit 3
mkdir -p /tmp/parts && cp .dev/site.a /tmp/parts/ && ls -la /tmp/parts
export PYTHONPATH=/tmp/site:$PWD/src HF_HUB_OFFLINE=1 PYTHONUNBUFFERED=1
python3 -c "import torch, transformers, peft, accelerate, pyarrow, fsspec, datasets, pydantic; print(torch.__version__, transformers.__version__, peft.__version__, accelerate.__version__, pyarrow.__version__, fsspec.__version__, torch.cuda.get_device_name())"
time timeout 150 python3 -m pytest -q -p no:cacheprovider tests/test_cuda.py -rs 2>&1 | tail -30
