"""An item's CPython signature in each Python version, from the spec.

The spec describes the target (3.11). For another version V:

- Existence: the item exists in V unless a history entry with
  effect = "appeared" is newer than V, or one with effect = "gone" is not.
- Signature: start from the nearest anchor at or above V and undo, newest
  first, the history entries between V and that anchor (a parameter of a
  params_added entry there is dropped; one of a params_removed entry cannot
  be brought back: that needs an anchor). Above every anchor, start from
  the newest one and apply the entries after it (params_removed drops; a
  params_added parameter cannot be made up: that needs an anchor). The anchors are the
  target's signature (`python_signature` where CPython's own differs from
  the documented `signature`, else `signature`) and each `signature_in`
  entry ("3.N": CPython's list in 3.N).

Versions: a history entry's version is exact (3.8.1 applies to 3.8.18,
not to 3.8.0); an anchor "3.N" holds for the newest 3.N.
"""

import re

from spec_model import parse_signature

TARGET = "3.11"
NEWEST_PATCH = 999


def version_key(text):
    """"3.8.1" -> (3, 8, 1); "3.8" -> (3, 8, 0)."""
    parts = [int(p) for p in text.split(".")]
    return tuple((parts + [0, 0])[:3])


def anchor_key(text):
    """An anchor "3.N" stands for the newest 3.N."""
    major, minor = version_key(text)[:2]
    return (major, minor, NEWEST_PATCH)


def exists_in(item, version):
    """True when the item exists in version (a version_key tuple)."""
    exists = True
    for h in sorted(item.history, key=lambda h: version_key(h.version)):
        if h.effect == "appeared" and version_key(h.version) > version:
            return False
        if h.effect == "gone" and version_key(h.version) <= version:
            exists = False
    return exists


def anchors(item, constants):
    """[(key, params)], sorted by version."""
    out = {anchor_key(TARGET): item.python_signature or item.signature}
    for v, sig in item.signature_in.items():
        out[anchor_key(v)] = sig
    result = []
    for key in sorted(out):
        params, reason = parse_signature(out[key], constants, lenient=True)
        if reason:
            raise ValueError(f"{item.id}: {reason}")
        result.append((key, params))
    return result


def signature_in(item, version, constants):
    """(params, problems) of the item in version (a version_key tuple).

    params: the Params CPython has, or None when the item does not exist.
    problems: what the spec cannot say (a parameter to bring back or make
    up without an anchor), each a line.
    """
    if not exists_in(item, version):
        return None, []
    problems = []
    marks = anchors(item, constants)
    above = [(k, p) for k, p in marks if k >= version]
    changes = [h for h in item.history if h.effect in ("params_added", "params_removed")]
    if above:
        key, params = above[0]
        params = list(params)
        between = [h for h in changes if version < version_key(h.version) <= key]
        for h in sorted(between, key=lambda h: version_key(h.version), reverse=True):
            for name in h.params:
                present = [p for p in params if p.name == name]
                if h.effect == "params_added":
                    if present:
                        params.remove(present[0])
                    else:
                        problems.append(
                            f"{item.id}: history says '{name}' was added in {h.version}, "
                            f"but the signature of {_show(key)} lacks it")
                elif not present:
                    problems.append(
                        f"{item.id}: '{name}' was removed in {h.version}; its place and "
                        f"default before that need signature_in[\"{_minor(version)}\"] "
                        "(or an older anchor)")
        return params, problems
    key, params = marks[-1]
    params = list(params)
    after = [h for h in changes if key < version_key(h.version) <= version]
    for h in sorted(after, key=lambda h: version_key(h.version)):
        for name in h.params:
            present = [p for p in params if p.name == name]
            if h.effect == "params_removed":
                if present:
                    params.remove(present[0])
            elif not present:
                problems.append(
                    f"{item.id}: '{name}' was added in {h.version}; its place and default "
                    f"need signature_in[\"{_minor(version)}\"]")
    return params, problems


def _minor(version):
    return f"{version[0]}.{version[1]}"


def _show(key):
    return _minor(key)


# --------------------------------------------------------------------------
# Comparing with what an interpreter reports (gen/sig_introspect.py)

CONSTANT_MODULES = ("socket", "subprocess", "asyncio")


def constant_value(text):
    """The value of a constant the spec writes (socket.AF_UNSPEC, ALL_COMPLETED)."""
    import importlib
    parts = text.split(".")
    if len(parts) == 1:
        parts = ["asyncio"] + parts
    obj = importlib.import_module(parts[0])
    for part in parts[1:]:
        obj = getattr(obj, part)
    return obj


def default_matches(default, got):
    """default: a spec Default or None; got: null or {"repr", "literal", "value"}."""
    if default is None or got is None:
        return default is None and got is None
    if default.kind == "expr":          # a sentinel: any non-literal default
        return not got["literal"]
    if default.kind == "constant":
        value = constant_value(default.text)
        if isinstance(value, int) and not isinstance(value, bool):
            return got.get("value") == int(value)
        return got.get("value") == value
    if not got["literal"]:
        return False
    if default.kind == "bytes":
        return got["repr"] == repr(default.value)
    if default.kind in ("none", "bool"):
        return got["repr"] == repr(default.value)
    value = got.get("value")
    if isinstance(value, bool):
        return False
    return value == default.value


def show_params(params):
    """A parameter list as Python writes it: (a, b=1, *args, c=None)."""
    out, star = [], False
    for p in params:
        name, kind, text = p
        if kind == "keyword" and not star:
            out.append("*")
            star = True
        if kind == "var_positional":
            star = True
            name = "*" + name
        if kind == "var_keyword":
            name = "**" + name
        out.append(name if text is None else f"{name}={text}")
    return "(" + ", ".join(out) + ")"


def spec_rows(params):
    return [(p.name, p.kind, p.default.text if p.default else None) for p in params]


def got_rows(params):
    return [(n, k, d["repr"] if d else None) for n, k, d in params]


def compare(spec_params, got_params):
    """'' when they agree (names, kinds, order, defaults), else a reason."""
    if len(spec_params) == len(got_params) and all(
            s.name == g[0] and s.kind == g[1] and default_matches(s.default, g[2])
            for s, g in zip(spec_params, got_params)):
        return ""
    return (f"spec {show_params(spec_rows(spec_params))}, "
            f"CPython {show_params(got_rows(got_params))}")


SENTINEL_RE = re.compile(r"^<.* at 0x[0-9a-f]+>$")
