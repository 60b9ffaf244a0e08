#!/bin/sh
# check.sh BIN - what `make examples` runs: the design runs a scenario and is a column
# of the matrix, linked in (BIN) and as a plugin of the installed guplab ($GUPLAB_BIN).
set -e
dir=$(dirname "$1")
guplab=${GUPLAB_BIN:-./build/install/bin/guplab}
"$1" run ext4-bug --design bias4k --policy skip | head -2
"$1" run --all --format json | grep -q '"design": "bias4k"'
"$guplab" --plugin "$dir/libbias4k.so" run torn-writeback --design bias4k --policy bounce | head -2
"$guplab" run --all --plugin "$dir/libbias4k.so" | grep -E '^  bias4k ' | head -3
"$guplab" --plugin "$dir/libbias4k.so" explore lost-update --design bias4k --policy wait --seeds 100 | tail -1
