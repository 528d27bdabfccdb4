cd /tmp/t27
v=$1
s=$(date +%s)
PYTHONPATH=/tmp/t27/src SECVEC_CACHE=/tmp/t27/cache HF_HUB_OFFLINE=1 /work/main/.venv/bin/python -c "import sys; from secvec.cli import run; sys.argv=['secvec']+sys.argv[1:]; run()" matrix -c v27$v.yaml > v27$v.log 2>&1
echo "rc=$? $(( $(date +%s) - s )) s" > v27$v.rc
