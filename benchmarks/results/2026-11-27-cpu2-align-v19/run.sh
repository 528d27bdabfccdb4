# How these ran: each yaml alone, one torch thread, two at a time, from a copy of src/ at 40713f4
export PYTHONPATH=/tmp/t19/src SECVEC_CACHE=/tmp/t19/.cache SECVEC_WORKERS=1 OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
run() { /usr/bin/time -v python -c "from secvec.cli import run; run()" demo -c "$1" > "${1%.yaml}.log" 2>&1; }
run cur-s0.yaml & run sens-s0.yaml & wait
run cur-s1.yaml & run cur-s2.yaml & wait
run sens-s1.yaml & run sens-s2.yaml & wait
