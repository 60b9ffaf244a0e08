#!/bin/sh
# check.sh BIN - what `make examples` runs: the scenario is listed, runs under a design,
# and is in the matrix as predicted.
set -e
"$1" run --list | grep -q dma-after-dontneed
"$1" run dma-after-dontneed --design folio_pincount --policy skip
"$1" run dma-after-dontneed --design get --policy ignore --unscripted --seed 7 --backend sim
"$1" run --all --format json | grep -q '"dma-after-dontneed"'
"$1" explore dma-after-dontneed --design bias --policy skip --seeds 200 | tail -2
