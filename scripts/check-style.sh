#!/usr/bin/env bash
# Style gates run by ctest: "format" (clang-format --dry-run -Werror on every C source) and
# "tidy BUILD_DIR" (clang-tidy with the project's .clang-tidy on the library and programs,
# using BUILD_DIR's compile_commands.json).
set -euo pipefail
cd "$(dirname "$0")/.."
sources() { git ls-files -co --exclude-standard -- "$@" | grep -v '^build' || true; }
case ${1:-} in
format)
    mapfile -t files < <(sources '*.c' '*.h')
    clang-format --dry-run -Werror "${files[@]}"
    echo "format: ${#files[@]} files clean"
    ;;
tidy)
    build=${2:?usage: check-style.sh tidy BUILD_DIR}
    mapfile -t files < <(sources 'infra/*.c' 'node-agent/*.c' 'fuzz/*.c' 'packaging/*.c' \
        'controller/*.c' 'snapshot-builder/*.c' 'cloudinit/*.c' 'tests/dosim/*.c')
    status=0
    for f in "${files[@]}"; do
        clang-tidy -p "$build" --quiet "$f" 2>/dev/null || status=1
    done
    [ $status -eq 0 ] && echo "tidy: ${#files[@]} files clean"
    exit $status
    ;;
*)
    echo "usage: check-style.sh format | tidy BUILD_DIR" >&2
    exit 2
    ;;
esac
