#!/usr/bin/env bash
# Zip -> tar, side by side in one run on this machine, reported as ratios: our converter
# (build/tests/zip2tar = infra/dp_zip2tar), Debian's bsdtar (`bsdtar -cf out.tar --format pax
# @in.zip`, the same libarchive underneath) and the Python baseline it replaces
# (../shared/baselines/zip2tar.py, in memory). Rounds alternate the three tools; medians.
#  1. A 16 MB zip (1,501 entries, ~52 MB unpacked: compressible text and random data, made
#     deterministically): wall time and peak RSS.
#  2. A 1 GiB zip (256 members of 4 MiB, random data, stored): peak RSS (and wall time).
# Outputs are checked to hold the same members with the same bytes as bsdtar's.
# Usage: bash bench/zip_bench.sh [--rounds N] [--big-rounds N] [--no-big] [--work DIR]
#        (prints a Markdown report; DP_BASELINES overrides ../shared/baselines, DP_ZIP2TAR
#        names a Release zip2tar binary instead of building one in build-zipbench)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
ROUNDS=7
BIG_ROUNDS=3
BIG=1
WORK=${DP_BENCH_WORK:-/tmp/dp-zip-bench}
while [ $# -gt 0 ]; do
    case $1 in
    --rounds) ROUNDS=$2; shift 2 ;;
    --big-rounds) BIG_ROUNDS=$2; shift 2 ;;
    --no-big) BIG=0; shift ;;
    --work) WORK=$2; shift 2 ;;
    -h | --help) sed -n '2,14p' "$0"; exit 0 ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
    esac
done
BASELINES=${DP_BASELINES:-$ROOT/../shared/baselines}
[ -f "$BASELINES/zip2tar.py" ] || { echo "baselines not found in $BASELINES (set DP_BASELINES)" >&2; exit 1; }
command -v bsdtar >/dev/null || { echo "bsdtar is needed (apt-get install libarchive-tools)" >&2; exit 1; }
[ -x /usr/bin/time ] || { echo "/usr/bin/time is needed (apt-get install time)" >&2; exit 1; }

if [ -n "${DP_ZIP2TAR:-}" ]; then # a converter built elsewhere (Release)
    OURS=$DP_ZIP2TAR
else
    BUILD=${DP_BENCH_BUILD:-$ROOT/build-zipbench}
    cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=Release >/dev/null
    cmake --build "$BUILD" -j"$(nproc)" --target zip2tar >/dev/null
    OURS=$BUILD/tests/zip2tar
fi

mkdir -p "$WORK"
OUT=$(mktemp -d "$WORK/out.XXXXXX")
trap 'rm -rf "$OUT"' EXIT

# ---- the inputs, made once and kept in WORK (deterministic: same bytes every time) ----
make_zips() {
    python3 - "$WORK" "$BIG" <<'EOF'
import os, random, sys, zipfile
work, big = sys.argv[1], sys.argv[2] == "1"
STAMP = (2024, 1, 1, 0, 0, 0)

def text(rng, n):
    vocab = ["".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randint(2, 9)))
             for _ in range(400)]
    pool = [" ".join(rng.choice(vocab) for _ in range(rng.randint(4, 14))) + "\n"
            for _ in range(700)]
    out, size = [], 0
    while size < n:
        line = rng.choice(pool)
        out.append(line)
        size += len(line)
    return "".join(out)[:n].encode()

def small(path):
    rng = random.Random(1501)
    corpus = text(rng, 4 << 20)
    with zipfile.ZipFile(path + ".tmp", "w", zipfile.ZIP_DEFLATED) as z:
        for d in range(50):
            z.writestr(zipfile.ZipInfo(f"src/mod{d:02d}/", STAMP), b"")
        for i in range(1450):
            zi = zipfile.ZipInfo(f"src/mod{i % 50:02d}/file{i:04d}.{'txt' if i % 3 else 'bin'}", STAMP)
            zi.compress_type = zipfile.ZIP_DEFLATED
            zi.external_attr = (0o100755 if i % 17 == 0 else 0o100644) << 16
            if i % 3:
                n = rng.randint(30000, 70000)
                off = rng.randint(0, len(corpus) - n)
                data = corpus[off:off + n]
            else:
                data = rng.randbytes(rng.randint(4000, 12000))
            z.writestr(zi, data)
        z.writestr(zipfile.ZipInfo("README.md", STAMP), b"# bench\n")
    os.replace(path + ".tmp", path)

def large(path):
    rng = random.Random(1024)
    with zipfile.ZipFile(path + ".tmp", "w", zipfile.ZIP_DEFLATED, compresslevel=1) as z:
        for i in range(256):
            z.writestr(zipfile.ZipInfo(f"blob/{i:03d}.bin", STAMP), rng.randbytes(4 << 20))
    os.replace(path + ".tmp", path)

if not os.path.exists(os.path.join(work, "small.zip")):
    small(os.path.join(work, "small.zip"))
if big and not os.path.exists(os.path.join(work, "big.zip")):
    large(os.path.join(work, "big.zip"))
EOF
}
make_zips

# run TOOL ZIP: one conversion; prints "<wall ms> <peak RSS KiB>".
run() {
    local tool=$1 zip=$2 out=$OUT/$1.tar t0 t1
    rm -f "$out"
    sync
    t0=$(date +%s%N)
    case $tool in
    bsdtar) /usr/bin/time -f %M -o "$OUT/rss" bsdtar -cf "$out" --format pax "@$zip" ;;
    python) /usr/bin/time -f %M -o "$OUT/rss" python3 "$BASELINES/zip2tar.py" "$zip" "$out" ;;
    ours) /usr/bin/time -f %M -o "$OUT/rss" "$OURS" "$zip" "$out" >/dev/null ;;
    esac
    t1=$(date +%s%N)
    echo "$(((t1 - t0) / 1000)) $(tail -n 1 "$OUT/rss")"
}

median() { sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2}'; }

# Same members, same bytes: a listing with a digest per file, from any tar.
digest() {
    python3 - "$1" <<'EOF'
import hashlib, sys, tarfile
with tarfile.open(sys.argv[1]) as t:
    for m in t:
        h = hashlib.sha256(t.extractfile(m).read()).hexdigest()[:16] if m.isreg() else "-"
        print(m.name.rstrip("/"), m.type.decode(), h)
EOF
}

# series NAME ZIP ROUNDS TOOLS...: fills T_<tool> (µs) and R_<tool> (KiB) with the medians.
series() {
    local name=$1 zip=$2 rounds=$3 r tool line
    shift 3
    for tool in "$@"; do : >"$OUT/$name.$tool"; done
    for ((r = 0; r < rounds; r++)); do
        for tool in "$@"; do
            line=$(run "$tool" "$zip")
            echo "$line" >>"$OUT/$name.$tool"
        done
    done
    for tool in "$@"; do
        printf -v "T_$tool" '%s' "$(cut -d' ' -f1 "$OUT/$name.$tool" | median)"
        printf -v "R_$tool" '%s' "$(cut -d' ' -f2 "$OUT/$name.$tool" | median)"
    done
}

ratio() { awk -v a="$1" -v b="$2" 'BEGIN {r = a / b; printf (r < 0.1 ? "%.3fx" : "%.2fx"), r}'; }
secs() { awk -v u="$1" 'BEGIN {printf "%.3f s", u / 1e6}'; }
mib() { awk -v k="$1" 'BEGIN {printf "%.1f MiB", k / 1024}'; }

series small "$WORK/small.zip" "$ROUNDS" bsdtar python ours
digest "$OUT/bsdtar.tar" >"$OUT/want"
digest "$OUT/ours.tar" >"$OUT/got"
SAME=yes
cmp -s "$OUT/want" "$OUT/got" || SAME="NO (see $OUT)"
S_ENTRIES=$(wc -l <"$OUT/want")
S_ZIP=$(stat -c %s "$WORK/small.zip")
S_TB=$T_bsdtar S_TP=$T_python S_TO=$T_ours S_RB=$R_bsdtar S_RP=$R_python S_RO=$R_ours

if [ "$BIG" = 1 ]; then
    series big "$WORK/big.zip" "$BIG_ROUNDS" bsdtar ours
    series bigpy "$WORK/big.zip" 1 python
    B_ZIP=$(stat -c %s "$WORK/big.zip")
fi

cat <<EOF
### zip -> tar ($(nproc) CPUs, $(date -u +%Y-%m-%d), medians of alternating rounds)

Input: a deterministic zip of $(awk -v b="$S_ZIP" 'BEGIN {printf "%.1f", b / 1e6}') MB, $S_ENTRIES entries; outputs hold the same
members and bytes as bsdtar's: $SAME. $ROUNDS rounds (1 GiB zip: $BIG_ROUNDS).

| figure | bsdtar (libarchive-tools) | Python baseline | ours (dp_zip2tar) | ours / bsdtar | ours / Python |
| --- | --- | --- | --- | --- | --- |
| 16 MB zip: wall | $(secs "$S_TB") | $(secs "$S_TP") | $(secs "$S_TO") | $(ratio "$S_TO" "$S_TB") (target <= 1.05x) | $(ratio "$S_TO" "$S_TP") |
| 16 MB zip: peak RSS | $(mib "$S_RB") | $(mib "$S_RP") | $(mib "$S_RO") | $(ratio "$S_RO" "$S_RB") | $(ratio "$S_RO" "$S_RP") |
EOF
if [ "$BIG" = 1 ]; then
    cat <<EOF
| 1 GiB zip ($((B_ZIP / 1048576)) MiB, 256 x 4 MiB): wall | $(secs "$T_bsdtar") | $(secs "$T_python") (1 run) | $(secs "$T_ours") | $(ratio "$T_ours" "$T_bsdtar") | $(ratio "$T_ours" "$T_python") |
| 1 GiB zip: peak RSS | $(mib "$R_bsdtar") | $(mib "$R_python") | $(mib "$R_ours") (target <= 16 MiB) | $(ratio "$R_ours" "$R_bsdtar") | $(ratio "$R_ours" "$R_python") |
EOF
fi
