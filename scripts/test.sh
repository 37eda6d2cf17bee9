#!/usr/bin/env bash
# The test command: installs what is needed, builds three times (gcc Debug, clang Debug with
# ASan+UBSan, which also builds the libFuzzer targets, and gcc Release, which only has to build
# without a warning), and runs every test in the first two.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh

jobs=$(nproc)
build() { # dir cmake-args...
    local dir=$1
    shift
    cmake -S . -B "$dir" "$@" >/dev/null
    cmake --build "$dir" -j"$jobs"
}

build build -DCMAKE_BUILD_TYPE=Debug
build build-asan -DCMAKE_BUILD_TYPE=Debug -DCMAKE_C_COMPILER=clang -DDP_SANITIZE=ON
build build-release -DCMAKE_BUILD_TYPE=Release # warnings are errors here too (-O2 finds more)

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
status=0
for dir in build build-asan; do
    echo "=== ctest in $dir ==="
    (cd "$dir" && ctest --output-on-failure -j"$jobs" --timeout 900) || status=1
done
exit $status
