# the order they ran in (each waits for the last one's .rc): v31a (stopped after its first three cells), v31b, v32a, v32b, v32c
bash /tmp/t31/run.sh a; bash /tmp/t31/run.sh b; bash /tmp/t32/run.sh a; bash /tmp/t32/run.sh b; bash /tmp/t32/run.sh c
