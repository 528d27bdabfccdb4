cd /tmp/t26
v=$1
s=$(date +%s)
PYTHONPATH=/tmp/t26/src SECVEC_CACHE=/tmp/t26/cache HF_HUB_OFFLINE=1 /work/main/.venv/bin/python -c "import sys; from secvec.cli import run; sys.argv=['secvec']+sys.argv[1:]; run()" matrix -c v26$v.yaml > v26$v.log 2>&1
echo "rc=$? $(( $(date +%s) - s )) s" > v26$v.rc
