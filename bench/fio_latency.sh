#!/usr/bin/env bash
# fio_latency.sh - the per-I/O cost of guplab's O_DIRECT path over `--device uring:FILE`
# against real fio on the same file (issue 14, item 1): small-queue jobs where the
# model's added latency shows, each run as back-to-back pairs (the order alternating),
# with the median IOPS of each side, their ratio guplab/fio, and the median of the pairs'
# own ratios with its range (less moved by a disk whose speed drifts between pairs).
#
#   psync    rw=randread bs=4k ioengine=psync iodepth=1            (target >= 0.95)
#   uring1   rw=randread bs=4k ioengine=io_uring iodepth=1         (target >= 0.95)
#   hipri    as psync, with hipri=1 on guplab's side (it polls for its own
#            completion, blocked in the host); fio's side is plain psync
#   randrw   rw=randrw bs=4k ioengine=io_uring iodepth=16 numjobs=2 (target >= 1.0)
#   seed000  seed 000's job (read, libaio, iodepth 64)             (target >= 1.0)
#
# usage: bench/fio_latency.sh [-f FILE] [-b GUPLAB] [-n PAIRS] [-r SECONDS] [JOB...]
#   FILE     a 1 GiB data file on a real disk (not tmpfs); default build/release/guplab-fio.dat,
#            laid out by fio if smaller
#   GUPLAB   default build/release/guplab;  PAIRS default 5;  SECONDS per run, default 5
#   JOB      any of the names above; default all
# Needs fio and python3.
set -euo pipefail
cd "$(dirname "$0")/.."

file=build/release/guplab-fio.dat
guplab=build/release/guplab
pairs=5
runtime=5
while getopts "f:b:n:r:h" opt; do
  case $opt in
    f) file=$OPTARG ;;
    b) guplab=$OPTARG ;;
    n) pairs=$OPTARG ;;
    r) runtime=$OPTARG ;;
    *) sed -n '2,20p' "$0"; exit 2 ;;
  esac
done
shift $((OPTIND - 1))
jobs=("$@")
[ ${#jobs[@]} -gt 0 ] || jobs=(psync uring1 hipri randrw seed000)
for tool in fio python3; do
  command -v "$tool" >/dev/null || { echo "fio_latency: $tool is not installed" >&2; exit 2; }
done
[ -x "$guplab" ] || { echo "fio_latency: $guplab not built" >&2; exit 2; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
have=$(stat -c %s "$file" 2>/dev/null || echo 0)
if [ "$have" -lt $((1 << 30)) ]; then
  echo "fio_latency: laying out $file (1 GiB) with fio"
  fio --name=layout --filename="$file" --size=1g --rw=write --bs=1m --direct=1 \
      --ioengine=io_uring --iodepth=8 --output=/dev/null
fi

jobfile() {  # jobfile NAME SIDE -> writes $tmp/NAME.SIDE.fio
  local body
  case $1 in
    psync) body="rw=randread
bs=4k
ioengine=psync
iodepth=1" ;;
    uring1) body="rw=randread
bs=4k
ioengine=io_uring
iodepth=1" ;;
    hipri) if [ "$2" = guplab ]; then body="rw=randread
bs=4k
ioengine=psync
hipri=1
iodepth=1"; else body="rw=randread
bs=4k
ioengine=psync
iodepth=1"; fi ;;
    randrw) body="rw=randrw
bs=4k
ioengine=io_uring
iodepth=16
numjobs=2
group_reporting" ;;
    seed000) body="rw=read
bs=4k
ioengine=libaio
iodepth=64" ;;
    *) echo "fio_latency: unknown job $1" >&2; exit 2 ;;
  esac
  local timing="runtime=$runtime
time_based"
  [ "$1" = seed000 ] && timing=""
  printf '[%s]\ndirect=1\nfilename=%s\nsize=1g\n%s\n%s\n' "$1" "$file" "$body" "$timing" > "$tmp/$1.$2.fio"
}
iops() {  # iops JSONFILE -> read+write IOPS summed over its jobs
  python3 -c 'import json,sys; j=json.load(open(sys.argv[1])); print("%.1f" % sum(x["read"]["iops"]+x["write"]["iops"] for x in j["jobs"]))' "$1"
}
run_guplab() { "$guplab" fio --output-format=json --eta=never --device "uring:$file" --design bias "$tmp/$1.guplab.fio" > "$tmp/g.json"; iops "$tmp/g.json"; }
run_fio() { fio --output-format=json "$tmp/$1.fio.fio" > "$tmp/f.json"; iops "$tmp/f.json"; }
median() { printf '%s\n' "$@" | sort -g | awk '{v[NR]=$1} END {print (NR%2 ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2)}'; }
ratio() { python3 -c 'import sys; print("%.3f" % (float(sys.argv[1]) / float(sys.argv[2])))' "$1" "$2"; }

echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
for job in "${jobs[@]}"; do
  jobfile "$job" guplab
  jobfile "$job" fio
  g=() f=()
  for ((i = 1; i <= pairs; i++)); do
    if ((i % 2)); then a=$(run_guplab "$job"); b=$(run_fio "$job"); else b=$(run_fio "$job"); a=$(run_guplab "$job"); fi
    g+=("$a") f+=("$b")
    echo "$job pair $i: guplab $a IOPS   fio $b IOPS"
  done
  gm=$(median "${g[@]}") fm=$(median "${f[@]}")
  r=()
  for ((i = 0; i < pairs; i++)); do r+=("$(ratio "${g[i]}" "${f[i]}")"); done
  lo=$(printf '%s\n' "${r[@]}" | sort -g | head -1) hi=$(printf '%s\n' "${r[@]}" | sort -g | tail -1)
  echo "$job median: guplab $gm IOPS, fio $fm IOPS, guplab/fio = $(ratio "$gm" "$fm");" \
    "pair by pair: median $(median "${r[@]}") ($lo-$hi)"
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
