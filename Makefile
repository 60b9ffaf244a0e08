# guplab: the two commands a new user needs are `make demo` and `make test`.
# Every target installs what is missing first, so a fresh Debian machine works as root.

DEB_PACKAGES := clang cmake ninja-build pkg-config liburcu-dev liburing-dev \
  libboost-context-dev libcli11-dev libfmt-dev nlohmann-json3-dev libgtest-dev \
  libgmock-dev libbenchmark-dev libjemalloc-dev lld fio chromium
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: deps build demo test test-asan test-tsan bench explore examples conform fuzz mutants clean

deps:
	@missing=""; for p in $(DEB_PACKAGES); do \
	  dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing; \
	fi

# Keep the configured tree: without this, make deletes build.ninja as an intermediate file.
.PRECIOUS: build/%/build.ninja

build/%/build.ninja: CMakeLists.txt CMakePresets.json | deps
	cmake --preset $* >/dev/null

build-%: deps build/%/build.ninja
	cmake --build --preset $*

build: build-release

demo: build-release
	./build/release/guplab demo

test: build-release
	ctest --preset release

test-asan: build-asan
	ctest --preset asan

test-tsan: build-tsan
	ctest --preset tsan

bench: build-release
	./build/release/guplab_bench --benchmark_repetitions=3 --benchmark_report_aggregates_only=true

# libFuzzer targets (fuzz/): the fio job-file parser, the command-line parsers and the
# syscall-sequence fuzzer, FUZZ_SECONDS (default 60) each; prints executions per target.
fuzz: deps
	FUZZ_SECONDS=$(or $(FUZZ_SECONDS),60) fuzz/run.sh

# The mutation check: each scripts/mutants/*.mutant applied in turn must make its test fail.
mutants: deps
	scripts/mutants/run.sh

# The long explorations: seeds to the first failure where a design is vulnerable, and
# 100,000 schedules of every scenario under the safe designs and policies (~15 min, 2 cores).
explore: build-release
	bench/explore_check.sh ./build/release/guplab $(or $(SEEDS),100000) $(or $(JOBS),$(shell nproc))

# Install the library into build/install and build every out-of-tree project of examples/
# against that package (find_package(guplab CONFIG)), then run each (its check.sh if it has one).
examples: build-release
	cmake --install build/release --prefix $(CURDIR)/build/install >/dev/null
	@for ex in examples/*/; do n=$$(basename $$ex); \
	  cmake -S $$ex -B build/examples/$$n -G Ninja -DCMAKE_CXX_COMPILER=clang++ \
	    -DCMAKE_PREFIX_PATH=$(CURDIR)/build/install >/dev/null && \
	  cmake --build build/examples/$$n >/dev/null && \
	  echo "== examples/$$n" && \
	  if [ -x $$ex/check.sh ]; then $$ex/check.sh ./build/examples/$$n/$${n}_example; \
	  else ./build/examples/$$n/$${n}_example; fi || exit 1; done

# Linux conformance: every case on the host kernel and on every design, side by side,
# then the pre-5.8 COW reuse rule against the host (the vmsplice() cases leak: CVE-2020-29374).
# As root the host's 2 MiB hugetlb pool is raised to HUGETLB_PAGES free pages for the run and
# put back after, so the host runs its hugetlb cases too (HUGETLB_PAGES=0 leaves it alone).
HUGETLB_PAGES ?= 64
conform: build-release
	scripts/hugetlb_pool.sh $(HUGETLB_PAGES) ./build/release/guplab conform
	scripts/hugetlb_pool.sh $(HUGETLB_PAGES) ./build/release/guplab conform --host --design folio_pincount --cow-reuse mapcount | tail -n 25

clean:
	rm -rf build
