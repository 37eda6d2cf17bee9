#!/usr/bin/env bash
# A short bounded fuzz run for ctest: BINARY mutates a copy of CORPUS in a temp folder (the
# seeds in the tree never change) for SECONDS; crash inputs are kept in ARTIFACTS.
# Usage: run_fuzz.sh BINARY CORPUS SECONDS ARTIFACTS
set -euo pipefail
bin=$1 corpus=$2 seconds=$3 artifacts=$4
work=$(mktemp -d /tmp/dp-fuzz.XXXXXX)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/corpus" "$artifacts"
cp -r "$corpus/." "$work/corpus/"
"$bin" -max_total_time="$seconds" -timeout=5 -rss_limit_mb=1024 -print_final_stats=1 \
    -artifact_prefix="$artifacts/" "$work/corpus"
