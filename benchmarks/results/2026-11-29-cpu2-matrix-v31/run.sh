cd /tmp/t31
v=$1
s=$(date +%s)
PYTHONPATH=/tmp/t31/src SECVEC_CACHE=/tmp/t29/cache HF_HUB_OFFLINE=1 /work/main/.venv/bin/python -c "import sys; from secvec.cli import run; sys.argv=['secvec']+sys.argv[1:]; run()" matrix -c v31$v.yaml > v31$v.log 2>&1
echo "rc=$? $(( $(date +%s) - s )) s" > v31$v.rc
# v32: the same with /tmp/t32 (src with v32-src.patch) and v32 in place of t31 / v31
