#!/bin/sh
# explore_check.sh - the long explorations (make explore): what the sim explorer finds
# where the seeds say a design is vulnerable, and that it finds nothing where a design
# is safe.
#
#   1. Seeds to the first failure, over 20 explorations with different base seeds, for
#      the seed-002 crash (ext4-bug) and the seed-003 torn page (torn-writeback) under
#      design get with policy ignore; the median is printed.
#   2. SEEDS (default 100000) schedules of every scenario under bias, dma_count and
#      folio_pincount with skip and wait: each must end as the scenario predicts
#      (explore --check): no failure of any kind where it predicts ok. A scenario that
#      no design makes safe (uffd-wp-pin: pins do not stop DMA) is checked to fail only
#      as predicted.
#
# Usage: bench/explore_check.sh [GUPLAB] [SEEDS] [JOBS]
set -eu
G=${1:-./build/release/guplab}
SEEDS=${2:-100000}
JOBS=${3:-$(nproc)}
fail=0

median() { sort -n | awk '{a[NR]=$1} END {if (NR % 2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }

for cell in "ext4-bug get ignore" "torn-writeback get ignore"; do
  set -- $cell
  runs=""
  for base in $(seq 1 20); do
    out=$("$G" explore "$1" --design "$2" --policy "$3" --seeds 100000 --base-seed "$base" --until-fail -q --jobs 1 || true)
    run=$(echo "$out" | sed -n 's/^first failure: run \([0-9]*\) .*/\1/p')
    if [ -z "$run" ]; then echo "$1 $2/$3 base $base: no failure in 100000 seeds"; fail=1; continue; fi
    runs="$runs $((run + 1))"
  done
  echo "$1 $2/$3: seeds to first failure over 20 base seeds:$runs; median $(echo $runs | tr ' ' '\n' | median)"
done

for s in $("$G" run --list | awk '{print $1}'); do
  for d in bias dma_count folio_pincount; do
    for p in skip wait; do
      ok=0
      out=$("$G" explore "$s" --design "$d" --policy "$p" --seeds "$SEEDS" --jobs "$JOBS" --check -q) || ok=1
      echo "$s $d/$p: $(echo "$out" | sed -n 's/^outcomes: //p'); $(echo "$out" | sed -n 's/^speed: *//p')"
      [ "$ok" = 0 ] || { echo "$out"; fail=1; }
    done
  done
done
exit $fail
