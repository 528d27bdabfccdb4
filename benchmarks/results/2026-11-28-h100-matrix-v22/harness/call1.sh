#!/bin/bash
# device call 1 of 3: Python wheels and the first part of the data (machine facts, import check)
set -u
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader; lscpu | grep 'Model name'; nproc; python3 -V
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .gpu1/whl/*.whl || exit 3
mkdir -p /tmp/parts && cp .gpu1/part.a /tmp/parts/ && ls -la /tmp/parts
export PYTHONPATH=/tmp/site:$PWD/src HF_HUB_OFFLINE=1
python3 -c "import torch, transformers, peft, accelerate, datasets, pydantic, fastapi, sqlalchemy, typer, gguf, secvec.cli; print(torch.__version__, transformers.__version__, peft.__version__, accelerate.__version__, datasets.__version__, torch.cuda.get_device_name())" || exit 4
echo CALL1 OK
