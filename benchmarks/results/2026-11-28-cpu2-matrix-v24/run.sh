cd /tmp/t24
v=$1
s=$(date +%s)
OMP_NUM_THREADS=1 PYTHONPATH=/tmp/t24/src$v SECVEC_CACHE=/tmp/t22/cache HF_HUB_OFFLINE=1 /work/main/.venv/bin/python -c "import sys; from secvec.cli import run; sys.argv=['secvec']+sys.argv[1:]; run()" matrix -c v24$v.yaml > v24$v.log 2>&1
echo "rc=$? $(( $(date +%s) - s )) s" > v24$v.rc
