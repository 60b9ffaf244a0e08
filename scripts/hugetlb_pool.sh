#!/usr/bin/env bash
# hugetlb_pool.sh - run a command with at least N free 2 MiB hugetlb pages on the host,
# then put vm.nr_hugepages back as it was (on any exit, Ctrl-C included). `make conform`
# uses it so that the host side of `guplab conform` runs its MAP_HUGETLB and
# memfd(MFD_HUGETLB) cases instead of skipping them; guplab itself never changes a
# system setting. Without root, or with N=0, the pool is left alone and the command runs.
#
# usage: scripts/hugetlb_pool.sh N COMMAND [ARG...]
set -euo pipefail
[ $# -ge 2 ] && [[ $1 =~ ^[0-9]+$ ]] || { echo "usage: $0 N COMMAND [ARG...]" >&2; exit 2; }
want=$1
shift
knob=/proc/sys/vm/nr_hugepages
free_file=/sys/kernel/mm/hugepages/hugepages-2048kB/free_hugepages
old=$(cat "$knob" 2>/dev/null || echo "")
free=$(cat "$free_file" 2>/dev/null || echo 0)
if [ "$want" -gt 0 ] && [ -n "$old" ] && [ "$free" -lt "$want" ]; then
  if [ "$(id -u)" != 0 ] || [ ! -w "$knob" ]; then
    echo "hugetlb_pool: $free free 2 MiB hugetlb pages, $want wanted; not root, so the pool is left alone" >&2
  else
    restore() { echo "$old" > "$knob"; }
    trap restore EXIT
    trap 'exit 130' INT TERM
    echo $((old + want - free)) > "$knob"
    got=$(cat "$free_file")
    echo "hugetlb_pool: vm.nr_hugepages $old -> $(cat "$knob") for this run ($got free; put back after)" >&2
  fi
fi
"$@"
