#!/usr/bin/env python3
"""Copy a stream for kubectl kustomize, which refuses the same object twice:
each repeat of (kind, namespace, name) gets `-dupN` after its top-level
metadata.name. Everything else is copied as it is."""
import re
import sys

src, dst = sys.argv[1], sys.argv[2]
text = open(src, encoding="utf-8").read()
docs = re.split(r"(?m)^(?=---(?:\s|$))", text)
seen, out = {}, []
for d in docs:
    kind = re.search(r"(?m)^kind:[ \t]*(\S+)", d)
    meta = re.search(r"(?m)^metadata:\s*\n((?:[ \t]+.*\n|\s*\n)*)", d)
    if kind and meta:
        block = meta.group(1)
        name = re.search(r"(?m)^  name:[ \t]*(\S+)", block)
        ns = re.search(r"(?m)^  namespace:[ \t]*(\S*)", block)
        if name:
            key = (kind.group(1), ns.group(1) if ns else "", name.group(1))
            n = seen.get(key, 0)
            seen[key] = n + 1
            if n:
                start = meta.start(1) + name.start(1)
                d = d[:start] + f"{name.group(1)}-dup{n}" + d[start + len(name.group(1)):]
    out.append(d)
open(dst, "w", encoding="utf-8").write("".join(out))
