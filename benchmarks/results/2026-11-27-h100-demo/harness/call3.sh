#!/bin/bash
# device call 3 of 3: assemble the data, then the demo (seed 0, then 3 seeds) with the test suite beside it
set -u
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target /tmp/site .dev3/*.whl
T0=$(date +%s); el() { echo $(( $(date +%s) - T0 )); }
test -f /tmp/parts/site.b || { echo "NOT WARM"; exit 4; }
cat /tmp/parts/site.a /tmp/parts/site.b .dev3/site.c > /tmp/site.tar.xz
echo "f6010326e8dd44da77899e22cf175d010d07e04d297dc8368f5720d3b73796eb  /tmp/site.tar.xz" | sha256sum -c || exit 5
tar xJf /tmp/site.tar.xz -C /tmp && ls /tmp/devsite; echo "unpacked at $(el) s"
export PYTHONPATH=/tmp/site:/tmp/devsite:$PWD/src HF_HUB_OFFLINE=1 PYTHONUNBUFFERED=1 SECVEC_CACHE=/tmp/cache TOKENIZERS_PARALLELISM=false
nvidia-smi --query-gpu=name --format=csv,noheader; lscpu | grep 'Model name'
(timeout 420 python3 -m pytest -q -p no:cacheprovider > $OUT/pytest.log 2>&1; echo "pytest rc=$? at $(el) s" >> $OUT/pytest.log) &
SV="import sys; from secvec.cli import run; sys.argv=['secvec']+sys.argv[1:]; run()"
mkdir -p $OUT/demo0 $OUT/demo3 $OUT/paper
echo "== demo seed 0, cold cache, start $(el) s"
timeout 330 python3 -c "$SV" demo -o /tmp/demo0 2>&1 | grep -v "it/s\]$" | tail -40; echo "demo0 rc=${PIPESTATUS[0]} at $(el) s"
cp /tmp/demo0/results.json /tmp/demo0/report.md $OUT/demo0/ 2>/dev/null
if [ $(el) -lt 330 ]; then echo "== demo 3 seeds, start $(el) s"
  timeout $(( 500 - $(el) )) python3 -c "$SV" demo -o /tmp/demo3 --set "attack_seeds=[0,1,2]" 2>&1 | grep -v "it/s\]$" | tail -40; echo "demo3 rc=${PIPESTATUS[0]} at $(el) s"
  cp /tmp/demo3/results.json /tmp/demo3/report.md /tmp/demo3/harmfulness.png $OUT/demo3/ 2>/dev/null; fi
if [ $(el) -lt 400 ]; then echo "== paper scale, start $(el) s"
  timeout $(( 530 - $(el) )) python3 -c "$SV" demo --scale paper -o /tmp/paper 2>&1 | grep -v "it/s\]$" | tail -30; echo "paper rc=${PIPESTATUS[0]} at $(el) s"
  cp /tmp/paper/results.json $OUT/paper/ 2>/dev/null; fi
wait; tail -5 $OUT/pytest.log; echo "end $(el) s"
