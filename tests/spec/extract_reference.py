#!/usr/bin/env python3
"""Extract the facts of the reference documentation pages the spec mirrors.

Usage: extract_reference.py [REFERENCE_DIR] [-o OUTPUT]

REFERENCE_DIR holds the four pages as text (default: ../shared/reference
relative to the repository root). The facts go to reference_facts.json
beside this script: for each page, every documented function, method and
attribute (owner, name, kind, parameter list as written) and every
"New in / Changed in / Deprecated since" note (the item it belongs to, the
kind of change, the version). The Low-level API Index contributes names
only. No prose is kept.

The pages are partly translated (French, Chinese); the note patterns below
cover the English, French and Chinese wordings. Standard library only.
"""

import argparse
import ast
import json
import re
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
DEFAULT_DIR = REPO.parent / "shared" / "reference"
DEFAULT_OUT = Path(__file__).resolve().parent / "reference_facts.json"

PAGE_ORDER = ["3.6", "3.8", "3.9+", "index"]

# How a page prefixes the owner of a documented callable.
PREFIX_OWNER = {
    "asyncio": "asyncio",
    "loop": "loop",
    "AbstractEventLoop": "loop",   # the 3.6 page
    "BaseEventLoop": "loop",       # the 3.6 page, connect_accepted_socket
}
# Classes whose methods a page lists without a prefix, after "class asyncio.X".
CLASS_OWNER = {
    "Handle": "handle",
    "TimerHandle": "timer_handle",
    "Server": "server",
}
# Index page: how each line names its owner.
INDEX_OWNER = {"asyncio": "asyncio", "loop": "loop", "transport": "transport"}

VERSION = r"(\d+(?:\.\d+)+)"
NOTE_PATTERNS = [
    # English
    (re.compile(r"^New in version " + VERSION), "added"),
    (re.compile(r"^Changed in version " + VERSION), "changed"),
    (re.compile(r"^Deprecated since version " + VERSION), "deprecated"),
    (re.compile(r"^Removed in version " + VERSION), "removed"),
    # French
    (re.compile(r"^Nouveau dans la version " + VERSION), "added"),
    (re.compile(r"^Modifi[ée] dans la version " + VERSION), "changed"),
    (re.compile(r"^(?:Obsol[èe]te|D[ée]pr[ée]ci[ée]) depuis la version " + VERSION), "deprecated"),
    (re.compile(r"^Supprim[ée] dans la version " + VERSION), "removed"),
    # Chinese
    (re.compile(r"^" + VERSION + r"\s*新版功能"), "added"),
    (re.compile(r"^在\s*" + VERSION + r"\s*版更改"), "changed"),
    (re.compile(r"^" + VERSION + r"\s*版后已弃用"), "deprecated"),
    (re.compile(r"^自\s*" + VERSION + r"\s*版起弃用"), "deprecated"),
    (re.compile(r"^" + VERSION + r"\s*版后已移除"), "removed"),
]

# Where a page's documentation ends and its examples begin.
EXAMPLES_HEADING = re.compile(
    r"^(?:Examples|Exemples|示例|例子|[\d.]+\s*Event loop examples)$")

SIGNATURE = re.compile(
    r"^(?:(coroutine|awaitable)\s+)?"
    r"(?:(" + "|".join(PREFIX_OWNER) + r")\.)?"
    r"([A-Za-z_]\w*)\((.*)\)$")
CLASS_LINE = re.compile(r"^class\s+asyncio\.(\w+)")
ATTRIBUTE = re.compile(r"^[a-z_][a-z0-9_]*$")

INDEX_ITEM = re.compile(
    r"^(?:(await|callback)\s+)?(?:(" + "|".join(INDEX_OWNER) + r")\.)?(\w+)\(\)\s")
INDEX_CLASS = re.compile(r"^([A-Z][a-z]+(?:[A-Z][a-z]*)+)\s")


class ExtractError(Exception):
    pass


def normalise(line):
    """Undo the spacing accidents of the text rendering ("loop. x", "asyncio. Handle")."""
    line = " ".join(line.split())
    return re.sub(r"\b(asyncio|loop|AbstractEventLoop|BaseEventLoop)\.\s+", r"\1.", line)


def is_param_list(params):
    try:
        ast.parse("def f(" + params + "): pass")
    except SyntaxError:
        return False
    return True


def version_note(line):
    for pattern, change in NOTE_PATTERNS:
        m = pattern.match(line)
        if m:
            return {"change": change, "version": m.group(1)}
    return None


def identify(text):
    first = text.lstrip().splitlines()[0] if text.strip() else ""
    if "Low-level API Index" in first:
        return "index"
    if "AbstractEventLoop.run_forever(" in text:
        return "3.6"
    if "shutdown_default_executor" in text:
        return "3.9+"
    if re.search(r"\b3\.8(\.\d+)?\b", first):
        return "3.8"
    return None


def extract_page(text, page):
    items = []
    current = None          # the item notes attach to
    klass = None            # (name, owner) of the current "class asyncio.X"
    class_notes = []        # notes printed under a class, before its first method
    lines = text.splitlines()
    for i, raw in enumerate(lines):
        if raw[:1].isspace():      # list items and most code are indented
            continue
        line = normalise(raw)
        if not line:
            continue
        if EXAMPLES_HEADING.match(line):
            break
        # A documented signature is a paragraph of its own; code lines that
        # look like one sit among other code lines.
        alone = ((i == 0 or not lines[i - 1].strip())
                 and (i + 1 == len(lines) or not lines[i + 1].strip()))
        m = CLASS_LINE.match(line)
        if m:
            if class_notes:
                raise ExtractError(f"{page}: notes under class {klass[0]} with no method after them")
            klass = (m.group(1), CLASS_OWNER.get(m.group(1)))
            current = None
            continue
        note = version_note(line)
        if note:
            if current is None and klass and klass[1]:
                class_notes.append(dict(note, **{"class": klass[0]}))
            elif current is None:
                raise ExtractError(f"{page}: version note with no item before it: {line!r}")
            else:
                current["notes"].append(note)
            continue
        m = SIGNATURE.match(line) if alone else None
        if m and is_param_list(m.group(4)):
            marker, prefix, name, params = m.groups()
            if prefix:
                owner = PREFIX_OWNER[prefix]
            elif klass and klass[1]:
                owner = klass[1]
            else:
                raise ExtractError(f"{page}: signature with no owner: {line!r}")
            if owner == "asyncio":
                kind = "function"
            else:
                kind = marker or "method"
            current = {"owner": owner, "name": name, "kind": kind,
                       "params": "(" + params + ")", "notes": class_notes}
            class_notes = []
            items.append(current)
            continue
        if alone and klass and klass[1] and ATTRIBUTE.match(line):
            current = {"owner": klass[1], "name": line, "kind": "attribute",
                       "params": None, "notes": class_notes}
            class_notes = []
            items.append(current)
    if class_notes:
        raise ExtractError(f"{page}: notes under class {klass[0]} with no method after them")
    seen = set()
    for item in items:
        key = (item["owner"], item["name"])
        if key in seen:
            raise ExtractError(f"{page}: {key} documented twice")
        seen.add(key)
    return {"items": items}


def extract_index(text):
    items, classes, seen = [], [], set()
    for raw in text.splitlines():
        line = " ".join(raw.split())
        m = INDEX_ITEM.match(line + " ")
        if m:
            marker, prefix, name = m.groups()
            if prefix:
                owner = INDEX_OWNER[prefix]
            elif marker == "callback":
                owner = "protocol"
            else:
                continue
            if (owner, name) not in seen:
                seen.add((owner, name))
                items.append({"owner": owner, "name": name})
            continue
        m = INDEX_CLASS.match(line)
        if m and m.group(1) not in classes:
            classes.append(m.group(1))
    return {"items": items, "classes": classes}


def extract(directory):
    directory = Path(directory)
    found = {}
    for path in sorted(directory.glob("*.txt")):
        text = path.read_text(encoding="utf-8")
        page = identify(text)
        if page is None:
            raise ExtractError(f"{path.name}: not one of the reference pages")
        if page in found:
            raise ExtractError(f"{path.name}: a second {page} page (first: {found[page][0]})")
        found[page] = (path.name, text)
    missing = [p for p in PAGE_ORDER if p not in found]
    if missing:
        raise ExtractError(f"{directory}: no page for {', '.join(missing)}")
    pages = {}
    for page in PAGE_ORDER:
        name, text = found[page]
        facts = extract_index(text) if page == "index" else extract_page(text, page)
        pages[page] = dict({"file": name}, **facts)
    return {"pages": pages}


def dumps(facts):
    return json.dumps(facts, indent=1, ensure_ascii=False) + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("directory", nargs="?", default=str(DEFAULT_DIR))
    parser.add_argument("-o", "--output", default=str(DEFAULT_OUT))
    args = parser.parse_args(argv)
    try:
        facts = extract(args.directory)
    except (ExtractError, OSError) as exc:
        print(f"extract_reference: {exc}", file=sys.stderr)
        return 1
    Path(args.output).write_text(dumps(facts), encoding="utf-8")
    counts = ", ".join(f"{p}: {len(facts['pages'][p]['items'])}" for p in PAGE_ORDER)
    print(f"wrote {args.output} ({counts})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
