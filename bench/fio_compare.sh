#!/usr/bin/env bash
# fio_compare.sh - seed 000's fio job, run through guplab's model and through the host
# kernel by real fio, on the same file, with public tools only (fio, python3).
#
#   (a) `guplab fio --device uring:FILE --design bias seed000.fio` against
#       `fio` with ioengine=io_uring on FILE: 3 back-to-back pairs (the order alternates
#       from pair to pair), the median IOPS of each side, and guplab/fio;
#   (b) the same guplab run with --design bias against --design get: 3 pairs, order
#       alternating, medians, bias/get.
#
# usage: bench/fio_compare.sh [-f FILE] [-j JOBFILE] [-b GUPLAB] [-n PAIRS] [-N NICE]
#   FILE     the data file, on a real disk (tmpfs has no O_DIRECT); default
#            build/release/guplab-fio.dat. Created and written out at the job's size (1 GiB)
#            by fio if it is smaller.
#   JOBFILE  default ../shared/bench/seed000.fio
#   GUPLAB   default build/release/guplab
#   PAIRS    default 3
#   NICE     run every measured command (guplab and fio alike) under `nice -n NICE`, e.g.
#            -N -10 on a machine shared with other work (root only); default: as is
# Prints each run's IOPS, then the medians and ratios. The checks it was written for:
# guplab >= 0.9 x fio in (a), and bias within 2% of get in (b).
set -euo pipefail
cd "$(dirname "$0")/.."

file=build/release/guplab-fio.dat
jobfile=../shared/bench/seed000.fio
guplab=build/release/guplab
pairs=3
nice_cmd=()
while getopts "f:j:b:n:N:h" opt; do
  case $opt in
    f) file=$OPTARG ;;
    j) jobfile=$OPTARG ;;
    b) guplab=$OPTARG ;;
    n) pairs=$OPTARG ;;
    N) nice_cmd=(nice -n "$OPTARG") ;;
    *) sed -n '2,24p' "$0"; exit 2 ;;
  esac
done
for tool in fio python3; do
  command -v "$tool" >/dev/null || { echo "fio_compare: $tool is not installed" >&2; exit 2; }
done
[ -x "$guplab" ] || { echo "fio_compare: $guplab not built (cmake --build --preset release)" >&2; exit 2; }
[ -r "$jobfile" ] || { echo "fio_compare: no job file $jobfile" >&2; exit 2; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# The host's run of the same job: the job file with the file and the engine replaced
# (options on fio's command line would not win over the job's own section).
sed -e "s|^filename=.*|filename=$file|" -e "s|^ioengine=.*|ioengine=io_uring|" "$jobfile" > "$tmp/host.fio"
size=$(python3 - "$jobfile" <<'EOF'
import re, sys
units = {'': 1, 'k': 1 << 10, 'm': 1 << 20, 'g': 1 << 30, 't': 1 << 40}
for line in open(sys.argv[1]):
    m = re.match(r'\s*size\s*=\s*(\d+)\s*([kmgt]?)\s*$', line, re.I)
    if m:
        print(int(m.group(1)) * units[m.group(2).lower()])
        break
EOF
)
have=$(stat -c %s "$file" 2>/dev/null || echo 0)
if [ "$have" -lt "$size" ]; then
  echo "fio_compare: laying out $file ($size bytes) with fio"
  fio --name=layout --filename="$file" --size="$size" --rw=write --bs=1m --direct=1 \
      --ioengine=io_uring --iodepth=8 --output=/dev/null
fi

iops() {  # iops JSONFILE -> the read IOPS of its first job
  python3 -c 'import json,sys; j=json.load(open(sys.argv[1])); print("%.1f" % j["jobs"][0]["read"]["iops"])' "$1"
}
run_guplab() {  # run_guplab DESIGN -> IOPS
  "${nice_cmd[@]}" "$guplab" fio --output-format=json --device "uring:$file" --design "$1" "$jobfile" > "$tmp/g.json"
  iops "$tmp/g.json"
}
run_fio() {
  "${nice_cmd[@]}" fio --output-format=json "$tmp/host.fio" > "$tmp/f.json"
  iops "$tmp/f.json"
}
median() { printf '%s\n' "$@" | sort -g | awk '{v[NR]=$1} END {print (NR%2 ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2)}'; }
ratio() { python3 -c 'import sys; print("%.3f" % (float(sys.argv[1]) / float(sys.argv[2])))' "$1" "$2"; }

echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)${nice_cmd[*]:+, under ${nice_cmd[*]}}"
echo "== (a) guplab fio --device uring:$file --design bias vs fio --ioengine=io_uring, $pairs pairs =="
g=() f=()
for ((i = 1; i <= pairs; i++)); do
  if ((i % 2)); then a=$(run_guplab bias); b=$(run_fio); else b=$(run_fio); a=$(run_guplab bias); fi
  g+=("$a") f+=("$b")
  echo "pair $i: guplab(bias) $a IOPS   fio(io_uring) $b IOPS"
done
gm=$(median "${g[@]}") fm=$(median "${f[@]}")
echo "median: guplab(bias) $gm IOPS, fio $fm IOPS, guplab/fio = $(ratio "$gm" "$fm")"

echo
echo "== (b) guplab fio --design bias vs --design get on uring:$file, $pairs pairs, order alternating =="
b_=() g_=()
for ((i = 1; i <= pairs; i++)); do
  if ((i % 2)); then x=$(run_guplab bias); y=$(run_guplab get); else y=$(run_guplab get); x=$(run_guplab bias); fi
  b_+=("$x") g_+=("$y")
  echo "pair $i: bias $x IOPS   get $y IOPS"
done
bm=$(median "${b_[@]}") gtm=$(median "${g_[@]}")
echo "median: bias $bm IOPS, get $gtm IOPS, bias/get = $(ratio "$bm" "$gtm")"
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
