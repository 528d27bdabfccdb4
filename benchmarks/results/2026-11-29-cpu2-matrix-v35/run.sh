cd /tmp/t35
v=$1
s=$(date +%s)
OMP_NUM_THREADS=1 PYTHONPATH=/tmp/t34/src SECVEC_CACHE=/tmp/t29/cache HF_HUB_OFFLINE=1 /work/main/.venv/bin/python -c "import sys; from secvec.cli import run; sys.argv=['secvec']+sys.argv[1:]; run()" matrix -c v35$v.yaml > v35$v.log 2>&1
echo "rc=$? $(( $(date +%s) - s )) s" > v35$v.rc
