#!/bin/sh
# run.sh - build every fuzz target (the fuzz preset: clang, libFuzzer, ASan + UBSan) and run
# each for FUZZ_SECONDS (default 60) from a copy of its corpus in the tree
# (fuzz/corpus/<target>/, copied to build/fuzz/corpus/<target>/ so runs do not touch the
# tree), then print the executions per target. A crash leaves its input in build/fuzz/ and
# makes this exit 1.
set -u
seconds=${FUZZ_SECONDS:-60}
cd "$(dirname "$0")/.." || exit 2
[ -f build/fuzz/build.ninja ] || cmake --preset fuzz >/dev/null || exit 2
cmake --build --preset fuzz --target job_file_fuzz cli_fuzz syscall_fuzz || exit 2
status=0
total=0
for t in job_file cli syscall; do
  mkdir -p "build/fuzz/corpus/$t" "build/fuzz/artifacts/$t"
  cp -n fuzz/corpus/$t/* "build/fuzz/corpus/$t/" 2>/dev/null
  log="build/fuzz/$t.log"
  # -timeout: a program that runs 30 s is a hang (kept as a timeout-* artifact); the
  # subcommands under cli_fuzz print a message per input: close their stdout and stderr.
  mask=0
  [ "$t" = cli ] && mask=3
  "build/fuzz/${t}_fuzz" -max_total_time="$seconds" -timeout=30 -rss_limit_mb=4096 -print_final_stats=1 -close_fd_mask=$mask \
    -artifact_prefix="build/fuzz/artifacts/$t/" "build/fuzz/corpus/$t" >"$log" 2>&1 || status=1
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1)
  echo "fuzz: ${t}_fuzz: ${execs:-0} executions in ${seconds} s, ${cov:-cov: ?}, corpus $(ls "build/fuzz/corpus/$t" | wc -l) inputs"
  total=$((total + ${execs:-0}))
  ls "build/fuzz/artifacts/$t" | sed "s|^|fuzz:   found: build/fuzz/artifacts/$t/|"
done
echo "fuzz: $total executions in all"
exit $status
