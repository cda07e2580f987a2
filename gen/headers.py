"""Reading the hand-written public headers for the API reference.

The headers of include/casyncio/ are their own source of truth: each
declaration carries the comment written just before it. read_headers()
turns them into sections for docs/api.md, following the headers'
convention:

- The first comment of a file says what it is: "casyncio/x.h - what it
  holds.", then paragraphs.
- A comment whose first line is a rule ("/* ------" or "/* --- Title ---")
  opens a section; its first line or sentence is the heading, the rest its
  text.
- Any other comment documents the declarations that follow it, up to the
  next comment or section. A declaration without a comment of its own
  belongs with the one before it (a struct and the function taking it).
- Declarations are kept as written: prototypes, typedefs, structs, enums,
  #define lines, extern variables and #if blocks, with their trailing
  comments. The include guard, #include lines and the __cplusplus blocks are
  left out.

Text in a comment indented by two or more spaces more than its neighbours
is code (an example), kept as a code block.

A header the reader cannot follow (a comment or declaration left open at the
end of the file, a stray #endif) is an error naming the file and the line.
"""

import os
import re
from dataclasses import dataclass, field

from spec_model import SpecError

RULE_RE = re.compile(r"^/\*\s*([-=]{3,})\s*(.*?)\s*[-=]*\s*(\*/)?\s*$")
API_NAME_RE = re.compile(r"\bAIO_API\b[^;{]*?\b(aio_\w+)\s*(?:\(|\[|;|=)")


@dataclass
class Entry:
    doc: list                       # blocks: ("p", text) or ("code", text)
    code: list = field(default_factory=list)    # declarations, as written

    @property
    def code_text(self):
        """The declarations, a blank line between them when any spans lines."""
        sep = "\n\n" if any("\n" in c for c in self.code) else "\n"
        return sep.join(self.code)


@dataclass
class Section:
    heading: str
    body: list                      # blocks
    entries: list = field(default_factory=list)


@dataclass
class HeaderDoc:
    path: str                       # casyncio/tasks.h
    what: str                       # "coroutines and tasks: ..."
    intro: list                     # blocks
    sections: list                  # Section; the first may have no heading

    @property
    def api_names(self):
        """The AIO_API functions and variables it declares, in order."""
        names = []
        for s in self.sections:
            for e in s.entries:
                for decl in e.code:
                    names += API_NAME_RE.findall(decl)
        return names


class _Error(Exception):
    pass


def comment_lines(raw):
    """The text lines of a comment: without /*, */ and the leading ' * '."""
    text = raw.strip()
    assert text.startswith("/*") and text.endswith("*/")
    body = text[2:-2]
    lines = body.split("\n")
    out = []
    for i, line in enumerate(lines):
        if i == 0:
            out.append(line.strip())
            continue
        stripped = line.lstrip()
        if stripped.startswith("*"):
            stripped = stripped[1:]
            if stripped.startswith(" "):
                stripped = stripped[1:]
        out.append(stripped.rstrip())
    while out and not out[0].strip():
        out.pop(0)
    while out and not out[-1].strip():
        out.pop()
    return out


def blocks(lines):
    """Paragraphs and code blocks of comment text lines."""
    out, para, code = [], [], []

    def flush_para():
        if para:
            out.append(("p", " ".join(p.strip() for p in para)))
            para.clear()

    def flush_code():
        if code:
            while code and not code[-1].strip():
                code.pop()
            indent = min(len(c) - len(c.lstrip()) for c in code if c.strip())
            out.append(("code", "\n".join(c[indent:] for c in code)))
            code.clear()

    for line in lines:
        if line.startswith("  ") and line.strip():
            flush_para()
            code.append(line)
        elif not line.strip():
            if code:
                code.append("")
            else:
                flush_para()
        else:
            flush_code()
            para.append(line)
    flush_para()
    flush_code()
    return out


def _strip_comments(line, in_comment):
    """The code of a line without its comments; returns (code, in_comment)."""
    code, i = [], 0
    while i < len(line):
        if in_comment:
            end = line.find("*/", i)
            if end < 0:
                return "".join(code), True
            i, in_comment = end + 2, False
        else:
            start = line.find("/*", i)
            slash = line.find("//", i)
            if slash >= 0 and (start < 0 or slash < start):
                code.append(line[i:slash])
                return "".join(code), False
            if start < 0:
                code.append(line[i:])
                return "".join(code), False
            code.append(line[i:start])
            i, in_comment = start + 2, True
    return "".join(code), in_comment


def _tokens(path, text):
    """The file as ("comment", text, line) / ("decl", text, line) /
    ("blank", "", line) items, guards, includes and __cplusplus blocks
    left out."""
    lines = text.split("\n")
    items = []
    i, n = 0, len(lines)
    guard = None
    cond = []           # open #if blocks: "guard", "skip" or "keep"
    while i < n:
        line = lines[i]
        s = line.strip()
        if not s:
            items.append(("blank", "", i + 1))
            i += 1
            continue
        if s.startswith("/*"):
            start = i
            buf = [line]
            while "*/" not in lines[i][(lines[i].find("/*") + 2 if i == start else 0):]:
                i += 1
                if i >= n:
                    raise _Error(f"{path}: line {start + 1}: a comment is not closed")
                buf.append(lines[i])
            after = lines[i][lines[i].find("*/") + 2:].strip()
            if after:
                raise _Error(f"{path}: line {i + 1}: code after a comment on the same line")
            items.append(("comment", "\n".join(buf), start + 1))
            i += 1
            continue
        if s.startswith("#"):
            directive = s[1:].strip()
            word = directive.split()[0] if directive.split() else ""
            if word == "ifndef" and guard is None and not any(k == "decl" for k, _, _ in items):
                name = directive.split()[1]
                if i + 1 < n and lines[i + 1].strip().replace(" ", "") == f"#define{name}":
                    guard = name
                    cond.append("guard")
                    i += 2
                    continue
            if word in ("ifdef", "if") and "__cplusplus" in directive:
                depth, j = 1, i + 1
                while j < n and depth:
                    w = lines[j].strip()
                    if w.startswith("#"):
                        d = w[1:].strip()
                        if d.startswith("if"):
                            depth += 1
                        elif d.startswith("endif"):
                            depth -= 1
                    j += 1
                if depth:
                    raise _Error(f"{path}: line {i + 1}: #if without #endif")
                i = j
                continue
            if word in ("if", "ifdef", "ifndef"):
                start, depth, buf, j = i, 0, [], i
                while j < n:
                    w = lines[j].strip()
                    buf.append(lines[j])
                    if w.startswith("#"):
                        d = w[1:].strip()
                        if d.startswith("if"):
                            depth += 1
                        elif d.startswith("endif"):
                            depth -= 1
                            if depth == 0:
                                break
                    j += 1
                if depth:
                    raise _Error(f"{path}: line {start + 1}: #{word} without #endif")
                items.append(("decl", "\n".join(buf), start + 1))
                i = j + 1
                continue
            if word == "endif":
                if not cond:
                    raise _Error(f"{path}: line {i + 1}: #endif without #if")
                cond.pop()
                i += 1
                continue
            if word in ("include", "pragma"):
                i += 1
                continue
            if word == "define":
                start, buf = i, [line]
                _, in_comment = _strip_comments(line, False)
                while lines[i].rstrip().endswith("\\") or in_comment:
                    i += 1
                    if i < n:
                        _, in_comment = _strip_comments(lines[i], in_comment)
                    if i >= n:
                        raise _Error(f"{path}: line {start + 1}: #define continues past "
                                     "the end")
                    buf.append(lines[i])
                items.append(("decl", "\n".join(buf), start + 1))
                i += 1
                continue
            raise _Error(f"{path}: line {i + 1}: unexpected directive '#{word}'")
        # A declaration: up to the ';' (or the '}' of a definition) at depth 0.
        start, buf, depth, in_comment = i, [], 0, False
        while True:
            buf.append(lines[i])
            code, in_comment = _strip_comments(lines[i], in_comment)
            depth += code.count("{") + code.count("(") - code.count("}") - code.count(")")
            tail = code.rstrip()
            if depth == 0 and not in_comment and (
                    tail.endswith(";") or (tail.endswith("}") and "(" in "".join(buf))):
                break
            i += 1
            if i >= n:
                raise _Error(f"{path}: line {start + 1}: a declaration is not closed")
        if depth < 0:
            raise _Error(f"{path}: line {start + 1}: unbalanced brackets")
        items.append(("decl", "\n".join(buf), start + 1))
        i += 1
    if cond:
        raise _Error(f"{path}: the include guard is not closed")
    return items


def parse_header(path, text):
    """A HeaderDoc from the text of include/<path>; raises SpecError."""
    try:
        items = _tokens(path, text)
    except _Error as e:
        raise SpecError([f"include/{e}"]) from None
    what, intro = "", []
    sections = [Section(heading="", body=[])]
    entry = None
    k = 0
    # The file's own comment: the first item.
    while k < len(items) and items[k][0] == "blank":
        k += 1
    if k < len(items) and items[k][0] == "comment":
        lines = comment_lines(items[k][1])
        first = lines[0] if lines else ""
        head, sep, rest = first.partition(" - ")
        if sep and head.strip().endswith(".h"):
            lines = [rest] + lines[1:]
        intro = blocks(lines)
        if intro and intro[0][0] == "p":
            what = intro[0][1]
            intro = intro[1:]
        k += 1
    for idx in range(k, len(items)):
        kind, text, _ = items[idx]
        if kind == "blank":
            continue
        if kind == "comment":
            first = text.strip().split("\n", 1)[0]
            m = RULE_RE.match(first)
            if m:
                lines = comment_lines(text)
                if lines:
                    lines[0] = re.sub(r"^[-=]+\s*", "", lines[0])
                    lines[0] = re.sub(r"\s*[-=]{3,}\s*$", "", lines[0])
                while lines and not lines[0].strip():
                    lines.pop(0)
                heading, body = _heading(lines)
                sections.append(Section(heading=heading, body=blocks(body)))
                entry = None
                continue
            nxt = items[idx + 1][0] if idx + 1 < len(items) else "blank"
            entry = Entry(doc=blocks(comment_lines(text)))
            sections[-1].entries.append(entry)
            if nxt == "blank":
                # A note on what follows, not a declaration's doc.
                pass
            continue
        # A declaration.
        if entry is None:
            entry = Entry(doc=[])
            sections[-1].entries.append(entry)
        entry.code.append(_dedent(text))
    sections = [s for s in sections if s.heading or s.body or s.entries]
    return HeaderDoc(path=path, what=what, intro=intro, sections=sections)


def _heading(lines):
    """A section's heading and text: the heading is what comes before the
    first ". " or ": " of the first paragraph (all of it when there is
    neither); the text is the rest."""
    if not lines:
        return "", []
    n = next((i for i, line in enumerate(lines) if not line.strip()), len(lines))
    para = " ".join(line.strip() for line in lines[:n])
    m = re.search(r"[.:](\s+|$)", para)
    if not m:
        return para, lines[n:]
    heading, rest = para[:m.start()], para[m.end():].strip()
    if rest:
        rest = rest[0].upper() + rest[1:]
        return heading, [rest] + lines[n:]
    return heading, lines[n:]


def _dedent(text):
    lines = text.split("\n")
    indent = min((len(x) - len(x.lstrip()) for x in lines if x.strip()), default=0)
    return "\n".join(x[indent:].rstrip() for x in lines)


def header_order(include_dir):
    """The headers of include_dir/casyncio/, in the order include/casyncio.h
    includes them (the generated api.h as None), then any other ones by
    name."""
    sub = os.path.join(include_dir, "casyncio")
    try:
        present = sorted(n for n in os.listdir(sub) if n.endswith(".h"))
    except FileNotFoundError:
        present = []
    order = []
    umbrella = os.path.join(include_dir, "casyncio.h")
    if os.path.exists(umbrella):
        with open(umbrella, encoding="utf-8") as f:
            for m in re.finditer(r'^\s*#\s*include\s+"casyncio/(\w+\.h)"', f.read(), re.M):
                name = m.group(1)
                if name in present and name not in order:
                    order.append(name)
                elif name == "api.h" and None not in order:
                    order.append(None)
    order += [n for n in present if n not in order]
    if None not in order:
        order.append(None)
    return order


def read_headers(include_dir):
    """[HeaderDoc or None (where the generated API goes)] for include_dir;
    raises SpecError."""
    out, errors = [], []
    for name in header_order(include_dir):
        if name is None:
            out.append(None)
            continue
        with open(os.path.join(include_dir, "casyncio", name), encoding="utf-8") as f:
            text = f.read()
        try:
            out.append(parse_header(f"casyncio/{name}", text))
        except SpecError as e:
            errors += e.errors
    if errors:
        raise SpecError(errors)
    return out
