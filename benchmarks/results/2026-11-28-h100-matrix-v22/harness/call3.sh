#!/bin/bash
# device call 3 of 3: assemble the data; tests/test_cuda.py beside the matrix (3 seeds, 15 cells, 3 defenses)
# usage: T=<seconds for the matrix> bash .gpu3/call3.sh
set -u
T0=$(date +%s); el() { echo $(( $(date +%s) - T0 )); }
test -f /tmp/parts/part.b || { echo "NOT WARM"; exit 4; }
cat /tmp/parts/part.a /tmp/parts/part.b .gpu3/part.c > /tmp/devsite.tar.xz
echo "d8c67ca29b0fbcc9bd886e7fea43353272b3bdf9b2ed7ef0160a4de78f102bf8  /tmp/devsite.tar.xz" | sha256sum -c || exit 5
python3 -c "import tarfile; tarfile.open('/tmp/devsite.tar.xz').extractall('/tmp')" || exit 6; ls /tmp/devsite; echo "unpacked at $(el) s"
export PYTHONPATH=/tmp/site:/tmp/devsite:$PWD/src HF_HUB_OFFLINE=1 PYTHONUNBUFFERED=1 SECVEC_CACHE=/tmp/cache TOKENIZERS_PARALLELISM=false
{ nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader; lscpu | grep 'Model name'; nproc; git log -1 --format='%H %s' 2>/dev/null; python3 -c "import torch, transformers, peft, accelerate; print(torch.__version__, transformers.__version__, peft.__version__, accelerate.__version__)"; } > $OUT/env.txt 2>&1
(timeout 240 python3 -m pytest -q -p no:cacheprovider tests/test_cuda.py -rs > $OUT/test_cuda.log 2>&1; echo "test_cuda rc=$? at $(el) s" >> $OUT/test_cuda.log) &
SV="import sys; from secvec.cli import run; sys.argv=['secvec']+sys.argv[1:]; run()"
echo "== matrix start $(el) s, limit $T s"
timeout $T python3 -c "$SV" matrix -c .gpu3/matrix-gpu.yaml > /tmp/mx.log 2>&1; echo "matrix rc=$? at $(el) s"
wait
grep -v -E "it/s\]|s/it\]" /tmp/mx.log | tail -150 > $OUT/matrix.log
cp /tmp/mx/results.json /tmp/mx/report.md /tmp/mx/matrix.png /tmp/mx/tradeoff.png $OUT/ 2>/dev/null
tar czf $OUT/generations.tar.gz -C /tmp/mx generations config.yaml 2>/dev/null
ls -la $OUT; tail -3 $OUT/test_cuda.log; echo "end $(el) s"
