#!/bin/sh
# Seed the fuzzer's corpus (fuzz/corpus/transform) from the repository's test
# data and, when present, the shared corpus of rendered charts. Big streams
# are cut into pieces of a few documents (at most about 8 KB) so the fuzzer
# starts from whole, realistic documents.
set -eu
cd "$(dirname "$0")"
out=corpus/transform
mkdir -p "$out"
shared=${SHARED:-../../shared}/corpus/rendered
for f in $(find ../testdata -type f \( -name '*.yaml' -o -name '*.yml' -o -name '*.json' -o -name stdin \)) \
         $( [ -d "$shared" ] && ls "$shared"/*.yaml ); do
    base=$(echo "$f" | tr '/.' '__')
    awk -v out="$out/$base" '
        function flush() { if (buf != "") { n++; printf "%s", buf > (out "." n); close(out "." n); buf = "" } }
        /^---/ && length(buf) > 8000 { flush() }
        { buf = buf $0 "\n" }
        END { flush() }
    ' "$f"
done
echo "$(ls "$out" | wc -l) seeds in fuzz/$out"
