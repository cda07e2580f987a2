#!/usr/bin/env python3
"""Checks that runtime/ keeps its layers: a file includes only the internal
headers of its own layer and of the layers below it.

    base -> loop -> tasks -> net

Public headers (casyncio/...) and the generated glue's (impl.h,
glue_helpers.h) may be included anywhere. Standard library only."""

import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LAYERS = ["base", "loop", "tasks", "net"]
INCLUDE_RE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)


def main():
    where = {}
    for layer in LAYERS:
        for name in os.listdir(os.path.join(ROOT, "runtime", layer)):
            if name.endswith(".h"):
                where[name] = layer
    problems = []
    for rank, layer in enumerate(LAYERS):
        folder = os.path.join(ROOT, "runtime", layer)
        for name in sorted(os.listdir(folder)):
            if not name.endswith((".c", ".h")):
                continue
            with open(os.path.join(folder, name), encoding="utf-8") as f:
                text = f.read()
            for header in INCLUDE_RE.findall(text):
                if header.startswith("casyncio/") or header in ("impl.h", "glue_helpers.h"):
                    continue
                owner = where.get(header)
                if owner is None:
                    problems.append("runtime/%s/%s: includes %s, which is in no layer"
                                    % (layer, name, header))
                elif LAYERS.index(owner) > rank:
                    problems.append("runtime/%s/%s: includes %s of the %s layer, above %s"
                                    % (layer, name, header, owner, layer))
    for problem in problems:
        print(problem)
    if problems:
        return 1
    print("layers: %s; every include goes down or sideways" % " -> ".join(LAYERS))
    return 0


if __name__ == "__main__":
    sys.exit(main())
