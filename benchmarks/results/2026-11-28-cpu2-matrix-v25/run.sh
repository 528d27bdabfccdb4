cd /tmp/t25
v=$1; src=$2
s=$(date +%s)
OMP_NUM_THREADS=1 PYTHONPATH=/tmp/t25/src$src SECVEC_CACHE=/tmp/t22/cache HF_HUB_OFFLINE=1 /work/main/.venv/bin/python -c "import sys; from secvec.cli import run; sys.argv=['secvec']+sys.argv[1:]; run()" matrix -c v25$v.yaml > v25$v.log 2>&1
echo "rc=$? $(( $(date +%s) - s )) s" > v25$v.rc
