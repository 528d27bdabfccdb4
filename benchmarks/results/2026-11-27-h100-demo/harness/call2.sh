#!/bin/bash
# device call 2 of 3: second third of the data (the machine must still hold call 1's files)
test -f /tmp/parts/site.a && test -d /tmp/site/transformers || { echo "NOT WARM: call 1's files are gone"; exit 4; }
cp .dev2/site.b /tmp/parts/ && ls -la /tmp/parts
