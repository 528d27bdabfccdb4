cd /tmp/t29
while [ ! -f v30c.rc ]; do sleep 15; done
bash run.sh 0d
bash run.sh 0f
bash run.sh 0e
bash run.sh 0b
