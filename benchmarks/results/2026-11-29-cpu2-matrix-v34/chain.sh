# after v34$1 ends, run the rest in order
cd /tmp/t34
first=$1; shift
while [ ! -f v34$first.rc ]; do sleep 20; done
for x in "$@"; do bash run.sh $x; done
