#!/usr/bin/env bash
# regenerate.sh - rerun real fio (3.33) for the golden report tests and keep what they read:
# fio's own output (normal and json in one file) and every I/O's slat/clat/lat from fio's
# per-I/O latency logs, cut to "<nsec> <ddir>" lines. Not run by CI; the outputs are committed.
set -euo pipefail
cd "$(dirname "$0")"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
run() {  # run NAME fio-options...
  local name=$1; shift
  fio --name="$name" --filename="$work/data" --size=32m "$@" --write_lat_log="$work/$name" \
      --log_avg_msec=0 --output-format=normal,json --output="$name.out"
  for kind in slat clat lat; do
    if [ -s "$work/${name}_$kind.1.log" ]; then
      awk -F', ' '{print $2, $3}' "$work/${name}_$kind.1.log" > "$name.$kind"
    else
      : > "$name.$kind"
    fi
  done
}
run randrw --bs=4k --rw=randrw --rwmixread=70 --direct=1 --ioengine=io_uring --iodepth=4 \
    --rate_iops=500,200 --runtime=2 --time_based
run seqwrite --bs=64k --rw=write --direct=1 --ioengine=psync --rate_iops=300 --runtime=2 --time_based
