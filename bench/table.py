#!/usr/bin/env python3
"""Format bench/compare.sh results (TSV: label, median seconds, peak RSS KiB) as Markdown."""
import sys

rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1]) if l.strip()]
machine = open(sys.argv[2]).read().strip().splitlines()
res = {r[0]: (float(r[1]), int(r[2]) if len(r) > 2 and r[2] else None) for r in rows}

def mb(b):
    return b / 1e6

print("\n".join("    " + m for m in machine))
print()
sizes = []
for label in res:
    parts = label.split("|")
    if len(parts) == 3 and parts[1] not in [s for s, _ in sizes]:
        sizes.append((parts[1], int(parts[2])))
if sizes:
    print("| stream | tool | median wall | MB/s | peak RSS | RSS / input | × cat | kustomize / this |")
    print("|---|---|---:|---:|---:|---:|---:|---:|")
for size, nbytes in sizes:
    get = lambda tool: res.get(f"{tool}|{size}|{nbytes}")
    cat, kz = get("cat"), get("kubectl kustomize")
    for tool in ["cat", "kubectl kustomize", "persist pvc", "persist statefulset"]:
        r = get(tool)
        if not r:
            continue
        secs, rss = r
        name = {"persist pvc": "kubectl-persist --mode pvc", "persist statefulset": "kubectl-persist --mode statefulset"}.get(tool, tool)
        rss_s = f"{rss / 1024:.0f} MiB" if rss else "-"
        ratio = f"{rss * 1024 / nbytes:.2f}" if rss else "-"
        vs_cat = f"{secs / cat[0]:.1f}" if cat and tool != "cat" else ""
        vs_kz = f"{kz[0] / secs:.0f}" if kz and tool.startswith("persist") else ""
        rate = mb(nbytes) / secs
        rate_s = f"{rate:.0f}" if rate >= 10 else f"{rate:.2f}"
        print(f"| {mb(nbytes):.1f} MB | {name} | {secs * 1000:.1f} ms | {rate_s} | {rss_s} | {ratio} | {vs_cat} | {vs_kz} |")
print()
start = [(k, v) for k, v in res.items() if k.startswith("startup")]
if start:
    print("| start-up | median wall | peak RSS |")
    print("|---|---:|---:|")
    for k, (secs, rss) in start:
        print(f"| `kubectl-persist {k.split(' ', 1)[1]}` | {secs * 1000:.2f} ms | {rss / 1024:.1f} MiB |" if rss else f"| {k} | {secs * 1000:.2f} ms | - |")
    print()
helm = {k.split("|")[0]: (v, int(k.split("|")[1])) for k, v in res.items() if k.startswith("helm")}
if len(helm) == 2:
    (base, n), (post, _) = helm["helm template"], helm["helm template + post-renderer"]
    print(f"| Helm 3, charts/bench-large ({mb(n):.2f} MB rendered) | median wall |")
    print("|---|---:|")
    print(f"| `helm template` | {base[0] * 1000:.1f} ms |")
    print(f"| `helm template --post-renderer kubectl-persist` | {post[0] * 1000:.1f} ms |")
    print(f"| post-renderer overhead | {100 * (post[0] - base[0]) / base[0]:+.1f} % |")
