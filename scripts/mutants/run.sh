#!/bin/sh
# run.sh - the mutation check (issue 15): for each scripts/mutants/*.mutant, apply its sed
# to its file, rebuild its test target (release preset), run its named test, which must
# FAIL, and restore the file (git checkout). Prints KILLED or SURVIVED per mutant; exits 1
# if any mutant survived, or its sed did not change the file.
# Usage: run.sh [name...] - only the mutants named (e.g. gup_fast_fork_seq); all without.
set -u
cd "$(dirname "$0")/../.." || exit 2
[ -f build/release/build.ninja ] || cmake --preset release >/dev/null || exit 2
status=0
if [ $# -gt 0 ]; then
  list=""
  for n in "$@"; do
    n=${n%.mutant}
    [ -f "scripts/mutants/${n##*/}.mutant" ] || { echo "run.sh: no mutant ${n##*/} in scripts/mutants/" >&2; exit 2; }
    list="$list scripts/mutants/${n##*/}.mutant"
  done
else
  list=$(ls scripts/mutants/*.mutant)
fi
for m in $list; do
  file=$(sed -n 's/^file: //p' "$m")
  expr=$(sed -n 's/^sed: //p' "$m")
  target=$(sed -n 's/^target: //p' "$m")
  test=$(sed -n 's/^test: //p' "$m")
  cp "$file" "$file.orig"
  sed -i "$expr" "$file"
  if cmp -s "$file" "$file.orig"; then
    echo "mutant $(basename "$m"): the sed no longer matches $file"
    mv "$file.orig" "$file"
    touch "$file"
    status=1
    continue
  fi
  if cmake --build build/release --target "$target" >/dev/null 2>&1; then
    if "build/release/$target" --gtest_filter="$test" >/dev/null 2>&1; then
      echo "mutant $(basename "$m"): SURVIVED ($test passed)"
      status=1
    else
      echo "mutant $(basename "$m"): KILLED by $test"
    fi
  else
    echo "mutant $(basename "$m"): does not build"
    status=1
  fi
  mv "$file.orig" "$file"
  touch "$file"  # newer than the mutant's objects, so the next build recompiles it
  cmake --build build/release --target "$target" >/dev/null 2>&1
done
exit $status
