cd /tmp/t29
v=$1
s=$(date +%s)
PYTHONPATH=/tmp/t29/src SECVEC_CACHE=/tmp/t29/cache HF_HUB_OFFLINE=1 /work/main/.venv/bin/python -c "import sys; from secvec.cli import run; sys.argv=['secvec']+sys.argv[1:]; run()" matrix -c v3$v.yaml > v3$v.log 2>&1
echo "rc=$? $(( $(date +%s) - s )) s" > v3$v.rc
