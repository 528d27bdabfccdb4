cd /tmp/t28
v=$1
s=$(date +%s)
PYTHONPATH=/tmp/t28/src2 SECVEC_CACHE=/tmp/t28/cache HF_HUB_OFFLINE=1 /work/main/.venv/bin/python -c "import sys; from secvec.cli import run; sys.argv=['secvec']+sys.argv[1:]; run()" matrix -c v28$v.yaml > v28$v.log 2>&1
echo "rc=$? $(( $(date +%s) - s )) s" > v28$v.rc
