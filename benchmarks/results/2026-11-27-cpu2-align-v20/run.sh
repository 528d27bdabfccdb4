# How these ran: each yaml alone, one torch thread, two at a time, from a copy of src/
export PYTHONPATH=/tmp/t20/src SECVEC_CACHE=/tmp/t20/.cache SECVEC_WORKERS=1 OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
run() { /usr/bin/time -v /work/main/.venv/bin/python -c "from secvec.cli import run; run()" demo -c "$1" > "${1%.yaml}.log" 2>&1; }
# The order they ran in (three processes shared the 2 cores at times, so "align s" is not a cost comparison;
# the cost per recipe is by its data: b280 1.6x today's alignment, both 2x, wide and cos 1x):
run b280-s0.yaml & sleep 20; run b280-s1.yaml &   # 21:05, shared the synthesis stage
run wide-s0.yaml                                 # 21:06 beside them
run b280-s2.yaml                                 # 21:35
run both-s0.yaml                                 # 21:51
run both-s1.yaml                                 # 22:04
run cos-s0.yaml                                  # 22:24
run both-s2.yaml                                 # 23:13, alone, OMP_NUM_THREADS=2 (after the fresh-clone checks)
# wide-s1 and cos-s1 were started and stopped (their first seeds were already outside the trade-off)
