#!/usr/bin/env bash
# bench/compare.sh: whole-process benchmark of kubectl-persist against the
# `cat` floor and `kubectl kustomize` doing the closest patch it can, on big
# streams built by ../shared/corpus/make-big.sh; plus start-up and the cost of
# the Helm post-renderer. Prints a Markdown table (also saved under bench/data/).
#
#   bench/compare.sh            # 5 MB and 50 MB streams, 7 runs each
#   bench/compare.sh --quick    # 5 MB only, 3 runs, kustomize once
#
# Environment: SIZES ("5 50"), RUNS (7), KUSTOMIZE_RUNS (3; 1 above 10 MB),
# BIN (default: cargo build --release, then target/release/kubectl-persist),
# CORPUS (../shared/corpus), KUBECTL (kubectl), HELM (helm 3; else
# ../shared/tools/install-helm.sh), NO_KUSTOMIZE=1, NO_HELM=1, NO_HYPERFINE=1.
# Timing: hyperfine when installed (median of its runs), else a loop of its
# own over $EPOCHREALTIME. Peak RSS: a first, untimed run under GNU
# /usr/bin/time -v (it also warms the page cache).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
SIZES=${SIZES:-"5 50"}
RUNS=${RUNS:-7}
KUSTOMIZE_RUNS=${KUSTOMIZE_RUNS:-}
CORPUS=${CORPUS:-$ROOT/../shared/corpus}
DATA=$ROOT/bench/data
KUBECTL=${KUBECTL:-kubectl}
# The path every Deployment gets. (`/data` itself is refused by the corpus's
# grafana Deployment, which already has a volume named `data`.)
PERSIST_PATH=/persist-bench
for arg in "$@"; do
    case $arg in
        --quick) SIZES=${SIZES_QUICK:-5}; RUNS=3; KUSTOMIZE_RUNS=1 ;;
        -h|--help) sed -n '2,16p' "$0"; exit 0 ;;
        *) echo "compare.sh: unknown argument $arg (try --help)" >&2; exit 2 ;;
    esac
done

missing=()
note() { echo "compare.sh: $*" >&2; }
have() { command -v "$1" >/dev/null 2>&1; }

# --- tools -----------------------------------------------------------------
[ -x "$CORPUS/make-big.sh" ] || { note "no $CORPUS/make-big.sh: set CORPUS to the corpus folder"; exit 1; }
have python3 || { note "python3 is needed (make-big.sh and the table)"; exit 1; }
if [ -z "${BIN:-}" ]; then
    note "building the release binary (cargo build --release)"
    cargo build --release --quiet
    BIN=$ROOT/target/release/kubectl-persist
fi
[ -x "$BIN" ] || { note "no binary at $BIN"; exit 1; }
GNU_TIME=
if /usr/bin/time -f %M true >/dev/null 2>&1; then GNU_TIME=/usr/bin/time
else missing+=("GNU time (/usr/bin/time; apt-get install time): no peak RSS column"); fi
HYPERFINE=
if [ -z "${NO_HYPERFINE:-}" ] && have hyperfine; then HYPERFINE=hyperfine
else missing+=("hyperfine (optional): timed with the script's own loop"); fi
if [ -n "${NO_KUSTOMIZE:-}" ]; then missing+=("kustomize row: skipped (NO_KUSTOMIZE)")
elif ! "$KUBECTL" kustomize --help >/dev/null 2>&1; then
    missing+=("kubectl (for kubectl kustomize): no kustomize row"); NO_KUSTOMIZE=1
fi
if [ -z "${NO_HELM:-}" ] && [ -z "${HELM:-}" ]; then
    if have helm && helm version --short 2>/dev/null | grep -q '^v3'; then HELM=helm
    elif [ -x "$ROOT/../shared/tools/install-helm.sh" ]; then
        eval "$("$ROOT/../shared/tools/install-helm.sh" 2>/dev/null)" || true
        HELM=${HELM3_BIN:-}
    fi
fi
if [ -z "${NO_HELM:-}" ] && [ -z "${HELM:-}" ]; then missing+=("helm 3 (HELM=...): no Helm rows"); NO_HELM=1; fi

mkdir -p "$DATA"
RESULTS=$DATA/results.tsv
: >"$RESULTS"

# --- measuring ---------------------------------------------------------------
# measure LABEL RUNS CMD... : median wall seconds and peak RSS (KiB) of CMD,
# stdout to /dev/null; appends "LABEL<TAB>seconds<TAB>rss" to $RESULTS.
measure() {
    local label=$1 runs=$2; shift 2
    local secs rss=""
    # One run first, that must succeed: it warms the page cache and, under GNU
    # time, gives the peak RSS.
    if [ -n "$GNU_TIME" ]; then
        local log=$DATA/time.log
        if ! "$GNU_TIME" -v -o "$log" "$@" >/dev/null 2>"$DATA/stderr.log"; then
            note "$label: the command failed: $*"; cat "$DATA/stderr.log" >&2; exit 1
        fi
        rss=$(awk -F': ' '/Maximum resident set size/ { print $2 }' "$log")
    elif ! "$@" >/dev/null 2>"$DATA/stderr.log"; then
        note "$label: the command failed: $*"; cat "$DATA/stderr.log" >&2; exit 1
    fi
    if [ -n "$HYPERFINE" ] && [ "$runs" -ge 2 ]; then
        local json=$DATA/hyperfine.json
        hyperfine -N --runs "$runs" --export-json "$json" --style none -- "$(printf '%q ' "$@")" >/dev/null
        secs=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["results"][0]["median"])' "$json")
    else
        local times=() i t0 t1
        for ((i = 0; i < runs; i++)); do
            t0=$EPOCHREALTIME
            "$@" >/dev/null 2>&1
            t1=$EPOCHREALTIME
            times+=("$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.6f", b - a }')")
        done
        secs=$(printf '%s\n' "${times[@]}" | sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }')
    fi
    printf '%s\t%s\t%s\n' "$label" "$secs" "$rss" >>"$RESULTS"
    printf '  %-44s %10.4f s  %8s KiB\n' "$label" "$secs" "${rss:--}" >&2
}

# --- the machine -------------------------------------------------------------
{
    echo "machine: $(nproc) cores, $(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo), $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo), $(uname -sr)"
    echo "load at start: $(cut -d' ' -f1-3 /proc/loadavg)"
    echo "binary: $BIN ($("$BIN" --version))"
    echo "timer: ${HYPERFINE:-own loop over \$EPOCHREALTIME}, runs: $RUNS"
} >"$DATA/machine.txt"
cat "$DATA/machine.txt" >&2
for m in "${missing[@]}"; do note "missing: $m"; done

# --- streams -----------------------------------------------------------------
for size in $SIZES; do
    stream=$DATA/big$size.yaml
    if [ ! -s "$stream" ]; then
        note "building $stream"
        "$CORPUS/make-big.sh" "$size" "$stream" >&2
    fi
    bytes=$(wc -c <"$stream")
    echo "== stream ${size} MB ($bytes bytes)" >&2
    measure "cat|$size|$bytes" "$RUNS" cat "$stream"
    measure "persist pvc|$size|$bytes" "$RUNS" "$BIN" -f "$stream" --mode pvc --all --path "$PERSIST_PATH"
    measure "persist statefulset|$size|$bytes" "$RUNS" "$BIN" -f "$stream" --mode statefulset --all --path "$PERSIST_PATH"
    if [ -z "${NO_KUSTOMIZE:-}" ]; then
        kdir=$DATA/kustomize$size
        mkdir -p "$kdir"
        # kustomize loads files below the kustomization only, and refuses a
        # stream with the same object twice (the corpus's stable-kong render
        # has a ServiceAccount twice, once as a hook): its copy gets
        # `-dupN` after the name of each repeat.
        python3 "$ROOT/bench/dedupe.py" "$stream" "$kdir/stream.yaml"
        cp "$ROOT/bench/kustomization.yaml" "$kdir/kustomization.yaml"
        kruns=${KUSTOMIZE_RUNS:-$([ "$size" -gt 10 ] && echo 1 || echo 3)}
        note "kubectl kustomize runs $kruns time(s) on $size MB (it takes a while)"
        measure "kubectl kustomize|$size|$bytes" "$kruns" "$KUBECTL" kustomize "$kdir"
    fi
done

# --- start-up ----------------------------------------------------------------
echo "== start-up" >&2
measure "startup --version" 30 "$BIN" --version
measure "startup one Deployment" 30 "$BIN" -f "$ROOT/examples/blog.yaml" --path /data

# --- Helm --------------------------------------------------------------------
if [ -z "${NO_HELM:-}" ]; then
    echo "== helm template charts/bench-large ($("$HELM" version --short))" >&2
    chart_bytes=$("$HELM" template rel "$ROOT/charts/bench-large" | wc -c)
    measure "helm template|$chart_bytes" "$RUNS" "$HELM" template rel "$ROOT/charts/bench-large"
    measure "helm template + post-renderer|$chart_bytes" "$RUNS" "$HELM" template rel "$ROOT/charts/bench-large" \
        --post-renderer "$BIN"
fi

echo "load at end: $(cut -d' ' -f1-3 /proc/loadavg)" >>"$DATA/machine.txt"
python3 "$ROOT/bench/table.py" "$RESULTS" "$DATA/machine.txt" | tee "$DATA/table.md"
for m in "${missing[@]}"; do note "missing: $m"; done
