cd /tmp/t23
s=$(date +%s)
PYTHONPATH=/tmp/t23/src SECVEC_CACHE=/tmp/t22/cache HF_HUB_OFFLINE=1 /work/main/.venv/bin/python -c "import sys; from secvec.cli import run; sys.argv=['secvec']+sys.argv[1:]; run()" matrix -c v23.yaml > v23.log 2>&1
echo "rc=$? $(( $(date +%s) - s )) s" > v23.rc
