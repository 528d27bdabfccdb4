#!/bin/bash
# device call 2 of 3: second part of the data (the machine must still hold call 1's files)
test -f /tmp/parts/part.a && test -d /tmp/site/transformers || { echo "NOT WARM: call 1's files are gone"; exit 4; }
cp .gpu2/part.b /tmp/parts/ && ls -la /tmp/parts && echo CALL2 OK
