# q.sh FIRST  then pairs "script:name" ...: wait for v35FIRST.rc, then run each in order
cd /tmp/t35
first=$1; shift
while [ ! -f v35$first.rc ]; do sleep 20; done
for x in "$@"; do bash ${x%%:*} ${x##*:}; done
