"""Reading and validating spec/.

load_spec(spec_dir, layout, exceptions) returns a Spec or raises SpecError,
whose .errors are lines of the form

    FILE: ITEM: REASON

FILE is the name of the spec file, ITEM the item's id (owner.name, e.g.
loop.call_later) or what else in the file is at fault (types.bool,
owners.loop, "item 3" for an item without a name, "(file)" for the file as
a whole), and REASON says what is wrong. Every error found is reported,
in file order and within a file in item order.
"""

import ast
import os
import re
import tomllib
from dataclasses import dataclass, field

SPECIAL_FILES = ("owners.toml", "types.toml", "status.toml")
KINDS = ("function", "method", "coroutine", "awaitable", "callback", "attribute", "constructor")
C_FORMS = ("struct", "direct", "split")
CHANGES = ("added", "changed", "deprecated", "removed")
EFFECTS = ("appeared", "gone", "params_added", "params_removed", "none")
OWNERSHIP = ("new", "borrowed")
TYPE_KINDS = ("scalar", "pointer", "callable", "variadic")
NONE_FORMS = ("null", "zero", "bool", "never")
VERSION_RE = re.compile(r"^[0-9]+\.[0-9]+(\.[0-9]+)?$")
IDENT_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class SpecError(Exception):
    def __init__(self, errors):
        super().__init__("\n".join(errors))
        self.errors = list(errors)


# --------------------------------------------------------------------------
# The model


@dataclass
class Default:
    """A parameter's default, as written in the signature."""
    text: str           # as Python writes it: None, 100, True, socket.AF_UNSPEC
    kind: str           # none | bool | int | float | str | constant
    value: object       # the Python value; for a constant its C spelling


@dataclass
class NoneIn:
    """A parameter's None at the targets first..last (minor versions of 3):
    `raises` (exception, message) the glue raises instead of none_raises,
    after the runtime's state check `after` when given; or `accepted`:
    None is passed on to the runtime."""
    first: int
    last: int
    accepted: bool = False
    raises: tuple | None = None
    after: str = ""


# The target version (3.11) and the versions a target can be (3.6-3.13).
NONE_IN_TARGET, NONE_IN_OLDEST, NONE_IN_NEWEST = 11, 6, 13


@dataclass
class Param:
    name: str
    kind: str           # positional | keyword | var_positional | var_keyword
    default: Default | None
    type: str = ""
    doc: str = ""
    none_raises: tuple | None = None
    none_check: str = "glue"    # glue | runtime: who raises none_raises
    # none_in: what None does at other targets than none_raises says, as
    # NoneIn entries in version order (spec none_in)
    none_in: list = field(default_factory=list)
    versions: str = ""
    cases: dict = field(default_factory=dict)   # the argument table test's values
    c_only: bool = False        # a parameter only C has (spec c_params)

    @property
    def required(self):
        return self.default is None and self.kind in ("positional", "keyword")

    @property
    def star(self):
        return {"var_positional": "*", "var_keyword": "**"}.get(self.kind, "")


@dataclass
class Returns:
    type: str
    ownership: str = ""
    doc: str = ""


@dataclass
class Raise:
    type: str
    when: str
    message: str = ""
    python_only: bool = False   # only a Python caller can get it (C's types rule it out)


@dataclass
class History:
    version: str
    change: str
    note: str
    pages: list
    params: list = field(default_factory=list)
    effect: str = "none"    # on the signature: appeared | gone | params_added | params_removed | none


@dataclass
class Item:
    file: str
    id: str
    name: str
    owner: str
    kind: str
    signature: str
    params: list
    pages: list
    summary: str
    doc: str = ""
    returns: Returns | None = None
    result: Returns | None = None
    raises: list = field(default_factory=list)
    history: list = field(default_factory=list)
    signature_on: dict = field(default_factory=dict)
    python_signature: str = ""  # CPython's own parameter list at the target, where the docs differ
    signature_in: dict = field(default_factory=dict)   # "3.N" -> CPython's list in that version
    availability: str = ""
    source: str = ""
    thread_safe: bool = False
    c_only: str = ""
    writable: bool = False
    state_check: str = ""   # a runtime state check the glue runs before the arguments'
    runs_in_task: bool = False  # a coroutine whose C function runs in the calling task
    c_form: str = ""        # struct | direct | split; "" the default rule
    c_name: str = ""        # the C function's name, where prefix + name cannot be it
    c_params: list = field(default_factory=list)    # Param: what only C passes
    hand_written: str = ""  # the header (casyncio/x.h) that declares its C form by hand


@dataclass
class Spec:
    dir: str
    files: list             # every file read, special files first
    item_files: list        # the item files, in layout order
    owners: dict            # name -> table of owners.toml (in file order)
    types: dict             # name -> table of types.toml
    constants: dict         # Python spelling -> C spelling
    items: list             # Item, in file order
    implemented: list       # item ids, as status.toml lists them

    def owner_items(self, owner):
        return [item for item in self.items if item.owner == owner]


# --------------------------------------------------------------------------
# Checking tables


class Checker:
    """Collects errors for one file."""

    def __init__(self, file, errors):
        self.file = file
        self.errors = errors

    def error(self, where, reason):
        self.errors.append(f"{self.file}: {where}: {reason}")

    def keys(self, where, table, path, required, optional):
        """Checks a table's keys; returns False when a required one is missing."""
        ok = True
        inside = f" in {path}" if path else ""
        for key in table:
            if key not in required and key not in optional:
                self.error(where, f"unknown key '{key}'{inside}")
        for key in required:
            if key not in table:
                self.error(where, f"missing required key '{key}'{inside}")
                ok = False
        return ok

    def string(self, where, table, key, path="", nonempty=True):
        value = table.get(key, "")
        if not isinstance(value, str):
            self.error(where, f"key '{_join(path, key)}' must be a string")
            return ""
        if nonempty and key in table and not value.strip():
            self.error(where, f"key '{_join(path, key)}' must not be empty")
        return value

    def boolean(self, where, table, key, path=""):
        value = table.get(key, False)
        if not isinstance(value, bool):
            self.error(where, f"key '{_join(path, key)}' must be true or false")
            return False
        return value

    def strings(self, where, table, key, path=""):
        value = table.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            self.error(where, f"key '{_join(path, key)}' must be a list of strings")
            return []
        return value

    def table(self, where, table, key, path=""):
        value = table.get(key, {})
        if not isinstance(value, dict):
            self.error(where, f"key '{_join(path, key)}' must be a table")
            return {}
        return value

    def tables(self, where, table, key):
        value = table.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
            self.error(where, f"key '{key}' must be an array of tables ([[item.{key}]])")
            return []
        return value


def _join(path, key):
    return f"{path}.{key}" if path else key


def _read_toml(path, file, errors):
    try:
        with open(path, "rb") as f:
            return tomllib.load(f)
    except tomllib.TOMLDecodeError as e:
        errors.append(f"{file}: (file): invalid TOML: {e}")
    except OSError as e:
        errors.append(f"{file}: (file): cannot read: {e.strerror}")
    return None


# --------------------------------------------------------------------------
# Signatures


def split_top_level(text):
    """Splits a parameter list at the commas outside brackets and strings."""
    parts, depth, quote, start = [], 0, "", 0
    for i, ch in enumerate(text):
        if quote:
            if ch == quote and text[i - 1] != "\\":
                quote = ""
        elif ch in "'\"":
            quote = ch
        elif ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        elif ch == "," and depth == 0:
            parts.append(text[start:i])
            start = i + 1
    parts.append(text[start:])
    return parts


def parse_signature(signature, constants, lenient=False):
    """Parses "(a, b=1, *args, c=None, **kw)" into Params.

    Returns (params, None) or (None, reason). lenient: a default that is
    neither a literal nor a constant of types.toml (CPython's sentinels,
    `mixins._marker`) is kept as kind "expr" instead of refused.
    """
    if not (signature.startswith("(") and signature.endswith(")")):
        return None, f"signature '{signature}' is not a parenthesised parameter list"
    source = f"def f{signature}: pass"
    try:
        tree = ast.parse(source)
    except SyntaxError as e:
        for part in split_top_level(signature[1:-1]):
            name, eq, default = part.partition("=")
            if not eq or default.startswith("="):
                continue
            name = name.split(":")[0].strip().lstrip("*")
            try:
                ast.parse(default.strip(), mode="eval")
            except SyntaxError:
                return None, (f"parameter '{name}': default '{default.strip()}' "
                              "is not a valid Python expression")
        return None, f"signature '{signature}' does not parse: {e.msg}"
    if len(tree.body) != 1 or not isinstance(tree.body[0], ast.FunctionDef):
        return None, f"signature '{signature}' is not a single parameter list"
    a = tree.body[0].args
    params = []
    positional = a.posonlyargs + a.args
    defaults = [None] * (len(positional) - len(a.defaults)) + list(a.defaults)
    for arg, node in zip(positional, defaults):
        params.append((arg.arg, "positional", node))
    if a.vararg:
        params.append((a.vararg.arg, "var_positional", None))
    for arg, node in zip(a.kwonlyargs, a.kw_defaults):
        params.append((arg.arg, "keyword", node))
    if a.kwarg:
        params.append((a.kwarg.arg, "var_keyword", None))
    result = []
    for name, kind, node in params:
        default = None
        if node is not None:
            default, reason = _default(ast.get_source_segment(source, node), node, constants,
                                       lenient)
            if reason:
                return None, f"parameter '{name}': {reason}"
        result.append(Param(name=name, kind=kind, default=default))
    return result, None


def _dotted(node):
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        base = _dotted(node.value)
        return f"{base}.{node.attr}" if base else None
    return None


def _default(text, node, constants, lenient=False):
    if isinstance(node, ast.Constant):
        value = node.value
        if value is None:
            return Default(text, "none", None), None
        if isinstance(value, bool):
            return Default(text, "bool", value), None
        if isinstance(value, int):
            return Default(text, "int", value), None
        if isinstance(value, float):
            return Default(text, "float", value), None
        if isinstance(value, str):
            return Default(text, "str", value), None
        if isinstance(value, bytes):
            return Default(text, "bytes", value), None
    if (isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub)
            and isinstance(node.operand, ast.Constant)
            and type(node.operand.value) in (int, float)):
        value = -node.operand.value
        return Default(text, "int" if isinstance(value, int) else "float", value), None
    dotted = _dotted(node)
    if dotted is not None and dotted in constants:
        return Default(text, "constant", constants[dotted]), None
    if lenient:
        return Default(text, "expr", None), None
    if dotted is not None:
        return None, f"default '{text}' is not a constant of types.toml [constants]"
    return None, f"default '{text}' is not a literal or a constant of types.toml [constants]"


# --------------------------------------------------------------------------
# owners.toml, types.toml, status.toml


def _check_owners(data, file, errors):
    c = Checker(file, errors)
    owners = {}
    c.keys("(file)", data, "", ["owners"], [])
    table = data.get("owners", {})
    if not isinstance(table, dict):
        c.error("(file)", "key 'owners' must be a table")
        return owners
    for name, owner in table.items():
        where = f"owners.{name}"
        if not isinstance(owner, dict):
            c.error(where, "must be a table")
            continue
        c.keys(where, owner, "", ["title", "python", "prefix", "style", "header"],
               ["pyclass", "self", "struct", "unset", "head", "tail"])
        for key in ("title", "python", "header", "pyclass", "struct", "unset"):
            c.string(where, owner, key)
        c.string(where, owner, "prefix", nonempty=False)
        style = owner.get("style")
        if style not in ("functions", "struct"):
            c.error(where, f"unknown style '{style}' (functions or struct)")
        if "header" in owner and not IDENT_RE.match(str(owner["header"])):
            c.error(where, f"header '{owner['header']}' is not a file name stem")
        if "self" in owner:
            self_ = c.table(where, owner, "self")
            c.keys(where, self_, "self", ["c", "name"], [])
            c.string(where, self_, "c", "self")
            c.string(where, self_, "name", "self")
        if style == "struct":
            if "struct" not in owner:
                c.error(where, "missing required key 'struct' (style is struct)")
            if "self" not in owner:
                c.error(where, "missing required key 'self' (style is struct)")
            if "unset" not in owner:
                c.error(where, "missing required key 'unset' (style is struct)")
            if "head" in owner:
                head = c.table(where, owner, "head")
                c.keys(where, head, "head", ["c", "name", "doc"], [])
                for key in ("c", "name", "doc"):
                    c.string(where, head, key, "head")
            if "tail" in owner:
                tail = owner["tail"]
                if not isinstance(tail, list):
                    c.error(where, "key 'tail' must be a list of tables")
                else:
                    for i, field in enumerate(tail):
                        at = f"tail[{i}]"
                        if not isinstance(field, dict):
                            c.error(where, f"{at} must be a table")
                            continue
                        c.keys(where, field, at, ["decl", "doc"], [])
                        for key in ("decl", "doc"):
                            c.string(where, field, key, at)
        elif "head" in owner or "tail" in owner:
            c.error(where, "key 'head' is only for struct owners")
        elif style == "functions":
            if not str(owner.get("prefix", "")).startswith("aio_"):
                c.error(where, f"prefix '{owner.get('prefix')}' does not start with aio_")
            if "self" in owner and "pyclass" not in owner:
                c.error(where, "missing required key 'pyclass' (a method owner)")
        owners[name] = owner
    return owners


def parse_case_value(text, fixtures):
    """A value of the argument table test, as types.toml `cases` writes it.

    Returns (kind, value) or (None, reason). Kinds: none, bool, int, float
    (nan and inf too), str (a quoted string), fixture (a name the test
    harnesses define, listed in gen/layout.toml [args_test] fixtures).
    """
    if not isinstance(text, str) or not text:
        return None, "must be a non-empty string"
    if text == "None":
        return "none", None
    if text in ("True", "False"):
        return "bool", text == "True"
    if text in ("nan", "inf", "-inf"):
        return "float", float(text)
    if len(text) >= 2 and text[0] == text[-1] == '"':
        body = text[1:-1]
        if '"' in body or "\\" in body:
            return None, f"'{text}': quotes and backslashes cannot be written inside a string"
        return "str", body
    try:
        return "int", int(text)
    except ValueError:
        pass
    try:
        return "float", float(text)
    except ValueError:
        pass
    if IDENT_RE.match(text):
        if text in fixtures:
            return "fixture", text
        return None, (f"'{text}' is not a literal nor a fixture of gen/layout.toml "
                      "[args_test] fixtures")
    return None, f"'{text}' is not a literal nor a fixture name"


def _check_cases(c, where, t, fixtures, path=""):
    """The values of the argument table test: `cases = { valid, zero, bad }`
    of a type (types.toml) or of one parameter (an item's params)."""
    at = _join(path, "cases")
    cases = c.table(where, t, "cases", path)
    c.keys(where, cases, at, [], ["valid", "zero", "bad"])
    for key in ("valid", "zero"):
        if key in cases:
            kind, reason = parse_case_value(cases[key], fixtures)
            if kind is None:
                c.error(where, f"{at}.{key}: {reason}")
    if "bad" in cases:
        for i, value in enumerate(c.strings(where, cases, "bad", at)):
            kind, reason = parse_case_value(value, fixtures)
            if kind is None:
                c.error(where, f"{at}.bad[{i}]: {reason}")
    if t.get("kind") == "variadic" and cases:
        c.error(where, f"{at}: a variadic type has no cases (*args is not checked)")


def _check_types(data, file, errors, fixtures=()):
    c = Checker(file, errors)
    c.keys("(file)", data, "", ["types"], ["constants"])
    types = data.get("types", {})
    constants = data.get("constants", {})
    if not isinstance(types, dict):
        c.error("(file)", "key 'types' must be a table")
        types = {}
    if not isinstance(constants, dict):
        c.error("(file)", "key 'constants' must be a table")
        constants = {}
    good = {}
    for name, t in types.items():
        where = f"types.{name}"
        if not isinstance(t, dict):
            c.error(where, "must be a table")
            continue
        c.keys(where, t, "", ["kind", "c", "none", "doc"],
               ["companion", "returns", "cases", "glue_c"])
        if "glue_c" in t:
            # An enum: the glue and the runtime hold it as this type.
            c.string(where, t, "glue_c")
            if t.get("kind") != "scalar":
                c.error(where, "key 'glue_c' is for scalar types")
        if "cases" in t:
            _check_cases(c, where, t, fixtures)
        c.string(where, t, "c")
        c.string(where, t, "doc")
        if t.get("kind") not in TYPE_KINDS:
            c.error(where, f"unknown kind '{t.get('kind')}'")
        if t.get("none") not in NONE_FORMS:
            c.error(where, f"unknown none '{t.get('none')}'")
        if "companion" in t:
            comp = c.table(where, t, "companion")
            c.keys(where, comp, "companion", ["suffix", "c", "doc"], [])
            for key in ("suffix", "c", "doc"):
                c.string(where, comp, key, "companion")
        if "returns" in t:
            ret = c.table(where, t, "returns")
            c.keys(where, ret, "returns", ["c", "error", "doc"], ["out"])
            c.string(where, ret, "c", "returns")
            c.string(where, ret, "error", "returns", nonempty=False)
            c.string(where, ret, "doc", "returns")
            if "out" in ret:
                # An out-parameter the function takes last (all_tasks()' count).
                out = c.table(where, ret, "out", "returns")
                c.keys(where, out, "returns.out", ["name", "c", "doc"], [])
                for key in ("name", "c", "doc"):
                    c.string(where, out, key, "returns.out")
                if not IDENT_RE.match(out.get("name", "") or "-"):
                    c.error(where, "key 'returns.out.name' must be a C identifier")
                if not str(out.get("c", "")).rstrip().endswith("*"):
                    c.error(where, "key 'returns.out.c' must be a pointer type")
        good[name] = t
    for name, value in constants.items():
        if not isinstance(value, str) or not IDENT_RE.match(value):
            c.error(f"constants.{name}", "must be a C identifier string")
    return good, {k: v for k, v in constants.items() if isinstance(v, str)}


# --------------------------------------------------------------------------
# Items

ITEM_REQUIRED = ["name", "owner", "kind", "signature", "pages", "summary"]
ITEM_OPTIONAL = ["params", "returns", "result", "raises", "history", "signature_on",
                 "availability", "source", "thread_safe", "c_only", "doc", "writable",
                 "state_check", "runs_in_task", "c_form", "c_name", "c_params",
                 "hand_written", "python_signature", "signature_in"]


def _check_item(c, index, raw, ctx):
    """Checks one [[item]]; returns an Item, or None when it is unusable."""
    owners, types, constants, pages, exceptions, state_checks, accepts_none, fixtures = ctx
    name, owner = raw.get("name"), raw.get("owner")
    if isinstance(name, str) and isinstance(owner, str):
        where = f"{owner}.{name}"
    elif isinstance(name, str):
        where = f"item {index} ({name})"
    else:
        where = f"item {index}"
    n_errors = len(c.errors)

    c.keys(where, raw, "", ITEM_REQUIRED, ITEM_OPTIONAL)
    for key in ("name", "owner", "kind", "signature", "summary", "doc", "availability",
                "source", "c_only"):
        c.string(where, raw, key)
    if isinstance(name, str) and name and not IDENT_RE.match(name):
        c.error(where, f"name '{name}' is not a Python identifier")
    if isinstance(owner, str) and owner not in owners:
        c.error(where, f"unknown owner '{owner}'")
    kind = raw.get("kind")
    if isinstance(kind, str) and kind not in KINDS:
        c.error(where, f"unknown kind '{kind}'")
    style = owners.get(owner, {}).get("style") if isinstance(owner, str) else None
    if style == "struct" and kind in ("function", "coroutine", "awaitable", "attribute"):
        c.error(where, f"kind '{kind}' on owner '{owner}', whose items are struct fields "
                       "(callback or method)")
    if style == "functions" and kind == "callback":
        c.error(where, f"kind 'callback' on owner '{owner}', whose items are functions")
    if style == "functions" and kind == "function" and "self" in owners.get(owner, {}):
        c.error(where, f"kind 'function' on owner '{owner}', which has a self (method?)")
    if style == "functions" and kind == "method" and "self" not in owners.get(owner, {}):
        c.error(where, f"kind 'method' on owner '{owner}', which has no self (function?)")
    if kind == "constructor" and (style != "functions" or "self" not in owners.get(owner, {})):
        c.error(where, f"kind 'constructor' on owner '{owner}', which is not a class")
    runs_in_task = c.boolean(where, raw, "runs_in_task")
    if runs_in_task and kind != "coroutine":
        c.error(where, "key 'runs_in_task' is only for coroutines")
    c_form = c.string(where, raw, "c_form")
    if c_form and c_form not in C_FORMS:
        c.error(where, f"unknown c_form '{c_form}' (struct, direct or split)")
    c_name = c.string(where, raw, "c_name")
    if c_name and not (IDENT_RE.match(c_name) and c_name.startswith("aio_")):
        c.error(where, f"c_name '{c_name}' is not a C identifier starting with aio_")

    hand_written = c.string(where, raw, "hand_written")
    if hand_written and not re.fullmatch(r"casyncio/\w+\.h", hand_written):
        c.error(where, f"hand_written '{hand_written}' is not a header casyncio/NAME.h")

    item_pages = c.strings(where, raw, "pages")
    for page in item_pages:
        if page not in pages:
            c.error(where, f"unknown page '{page}' in pages")
    if not item_pages and "source" not in raw and "pages" in raw:
        c.error(where, "pages is empty and no source is given")
    thread_safe = c.boolean(where, raw, "thread_safe")
    writable = c.boolean(where, raw, "writable")
    if "writable" in raw and kind != "attribute":
        c.error(where, "key 'writable' is only for attributes")
    state_check = c.string(where, raw, "state_check")
    if state_check:
        hook = state_checks.get(state_check)
        if hook is None:
            c.error(where, f"state_check '{state_check}' is not one of gen/layout.toml "
                           "[state_checks]")
        elif isinstance(owner, str) and hook.get("owner") != owner:
            c.error(where, f"state_check '{state_check}' is for owner '{hook.get('owner')}', "
                           f"not '{owner}'")

    # The signature and its parameters.
    params = None
    signature = raw.get("signature")
    if isinstance(signature, str):
        params, reason = parse_signature(signature, constants)
        if reason:
            c.error(where, reason)
    if params is not None and kind == "attribute" and params:
        c.error(where, f"an attribute takes no parameters (signature '{signature}')")
    raw_params = c.table(where, raw, "params")
    if params is not None:
        by_name = {p.name: p for p in params}
        for pname in raw_params:
            if pname not in by_name:
                c.error(where, f"parameter '{pname}' in params is not in the signature "
                               f"'{signature}'")
        for p in params:
            if p.name not in raw_params:
                c.error(where, f"parameter '{p.name}' of the signature has no entry in params")
                continue
            _check_param(c, where, p, raw_params[p.name], types, exceptions, accepts_none,
                         fixtures, state_checks=state_checks, owner=owner)

    # Parameters only C has, after Python's.
    c_params = []
    for pname, praw in c.table(where, raw, "c_params").items():
        if not IDENT_RE.match(pname):
            c.error(where, f"c_params: '{pname}' is not an identifier")
            continue
        if params is not None and pname in {p.name for p in params}:
            c.error(where, f"c_params: '{pname}' is also a Python parameter")
        cp = Param(name=pname, kind="positional", default=None, c_only=True)
        _check_param(c, where, cp, praw, types, exceptions, accepts_none, fixtures)
        c_params.append(cp)

    # Returns and result.
    returns = result = None
    if "returns" in raw:
        returns = _check_returns(c, where, raw["returns"], "returns", types)
    if "result" in raw:
        result = _check_returns(c, where, raw["result"], "result", types)
    if kind in ("coroutine", "awaitable"):
        if "result" not in raw:
            c.error(where, f"missing required key 'result' (a {kind})")
        if returns is not None and returns.type != "future":
            c.error(where, f"returns of a {kind} must be future, not '{returns.type}'")
        if returns is None:
            returns = Returns(type="future", ownership="new")
        if (runs_in_task and result is not None and result.type in types
                and style == "functions" and "returns" not in types[result.type]):
            c.error(where, f"result: type '{result.type}' cannot be returned (types.toml "
                           "gives it no returns), which runs_in_task needs")
    else:
        if "result" in raw:
            c.error(where, "key 'result' is only for coroutines and awaitables")
        if returns is None and kind in ("function", "method", "attribute", "constructor"):
            c.error(where, "missing required key 'returns'")
        if returns is None and kind == "callback":
            returns = Returns(type="none")
    if (returns is not None and style == "functions" and returns.type in types
            and "returns" not in types[returns.type]):
        c.error(where, f"returns: type '{returns.type}' cannot be returned "
                       "(types.toml gives it no returns)")
    if returns is not None and returns.type == "none" and kind == "attribute":
        c.error(where, "an attribute cannot be of type none")

    # Raises.
    raises = []
    for i, r in enumerate(c.tables(where, raw, "raises")):
        path = f"raises[{i}]"
        if c.keys(where, r, path, ["type", "when"], ["message", "python_only"]):
            if r["type"] not in exceptions:
                c.error(where, f"{path}: unknown exception type '{r['type']}' "
                               "(not in include/casyncio/exceptions.h)")
            raises.append(Raise(type=c.string(where, r, "type", path),
                                when=c.string(where, r, "when", path),
                                message=c.string(where, r, "message", path),
                                python_only=c.boolean(where, r, "python_only", path)))
    # A C caller gets a parameter's none_raises (NULL, AIO_NONE): it is not
    # Python's alone.
    for i, r in enumerate(raises):
        for p in params or []:
            if r.python_only and p.none_raises == (r.type, r.message):
                c.error(where, f"raises[{i}]: python_only, but a C caller gets it too: it is "
                               f"params.{p.name}'s none_raises")

    # CPython's own signatures: at the target, and in other versions.
    python_names = {p.name for p in params or []}
    python_signature = c.string(where, raw, "python_signature")
    if python_signature:
        pparams, reason = parse_signature(python_signature, constants, lenient=True)
        if reason:
            c.error(where, f"python_signature: {reason}")
        python_names |= {p.name for p in pparams or []}
    signature_in = {}
    for version, sig in c.table(where, raw, "signature_in").items():
        if not re.match(r"^3\.[0-9]+$", version):
            c.error(where, f"signature_in: version '{version}' is not 3.N")
        if not isinstance(sig, str):
            c.error(where, f"signature_in: '{version}' must be a string")
            continue
        sparams, reason = parse_signature(sig, constants, lenient=True)
        if reason:
            c.error(where, f"signature_in '{version}': {reason}")
        python_names |= {p.name for p in sparams or []}
        signature_in[version] = sig

    # History.
    history = []
    for i, h in enumerate(c.tables(where, raw, "history")):
        path = f"history[{i}]"
        if not c.keys(where, h, path, ["version", "change", "note", "pages"],
                      ["params", "effect"]):
            continue
        version = c.string(where, h, "version", path)
        if not VERSION_RE.match(str(h["version"])):
            c.error(where, f"{path}: version '{h['version']}' is not N.N or N.N.N")
        if h["change"] not in CHANGES:
            c.error(where, f"{path}: unknown change '{h['change']}'")
        for page in c.strings(where, h, "pages", path):
            if page not in pages:
                c.error(where, f"{path}: unknown page '{page}'")
        hparams = c.strings(where, h, "params", path)
        effect = c.string(where, h, "effect", path)
        if not effect:
            effect = {"added": "params_added", "removed": "params_removed"}.get(
                h["change"], "none") if hparams else "none"
        if effect not in EFFECTS:
            c.error(where, f"{path}: unknown effect '{effect}' ({', '.join(EFFECTS)})")
        elif effect in ("appeared", "gone") and hparams:
            c.error(where, f"{path}: effect '{effect}' is about the item: no params")
        elif effect in ("params_added", "params_removed") and not hparams:
            c.error(where, f"{path}: effect '{effect}' needs params")
        if params is not None and effect != "params_removed":
            for pname in hparams:
                if pname not in python_names:
                    c.error(where, f"{path}: parameter '{pname}' is not in the signature "
                                   f"'{signature}' (nor in python_signature or signature_in)")
        history.append(History(version=version, change=h["change"],
                               note=c.string(where, h, "note", path),
                               pages=h["pages"] if isinstance(h["pages"], list) else [],
                               params=hparams, effect=effect))

    signature_on = {}
    for page, sig in c.table(where, raw, "signature_on").items():
        if page not in pages:
            c.error(where, f"signature_on: unknown page '{page}'")
        if not isinstance(sig, str):
            c.error(where, f"signature_on: '{page}' must be a string")
            continue
        _, reason = parse_signature(sig, constants)
        if reason:
            c.error(where, f"signature_on '{page}': {reason}")
        signature_on[page] = sig

    if len(c.errors) != n_errors:
        return None
    return Item(file=c.file, id=where, name=name, owner=owner, kind=kind,
                signature=signature, params=params, pages=item_pages,
                summary=raw["summary"].strip(), doc=raw.get("doc", "").strip(),
                returns=returns, result=result, raises=raises, history=history,
                signature_on=signature_on, python_signature=python_signature,
                signature_in=signature_in, availability=raw.get("availability", ""),
                source=raw.get("source", ""), thread_safe=thread_safe,
                c_only=raw.get("c_only", "").strip(), writable=writable,
                state_check=state_check, runs_in_task=runs_in_task, c_form=c_form,
                c_name=c_name, c_params=c_params, hand_written=hand_written)


def _none_raises_when_optional(p, t, accepts_none):
    """True when the glue raises for an optional parameter's AIO_NONE: a
    number whose default is not None and whose type does not take None."""
    return (t.get("kind") == "scalar" and t.get("none") == "zero"
            and p.default is not None and p.default.kind != "none"
            and p.type not in accepts_none and p.kind in ("positional", "keyword"))


def _check_none_in(c, where, p, raw, t, exceptions, state_checks, owner):
    """none_in = { "3.6-3.10" = ["AssertionError", ""], ... }: what a None
    does at other targets; the value is ["Exc", "message"], a table
    { raises = [...], after = "<state check>" }, or "accepted"."""
    path = f"params.{p.name}.none_in"
    table = raw["none_in"]
    if not isinstance(table, dict) or not table:
        c.error(where, f"{path} must be a table of version ranges")
        return
    if p.none_raises is None:
        c.error(where, f"{path} needs none_raises (the target's None)")
    if p.none_check != "glue":
        c.error(where, f"{path} cannot go with none_check = \"{p.none_check}\"")
    last_seen = 0
    for key, value in table.items():
        m = re.fullmatch(r"3\.(\d+)(?:-3\.(\d+))?", key)
        if m is None:
            c.error(where, f"{path}: '{key}' is not 3.N or 3.N-3.M")
            continue
        first = int(m.group(1))
        last = int(m.group(2)) if m.group(2) else first
        if not NONE_IN_OLDEST <= first <= last <= NONE_IN_NEWEST:
            c.error(where, f"{path}: '{key}' is not a range within 3.{NONE_IN_OLDEST}-"
                           f"3.{NONE_IN_NEWEST}")
            continue
        if first <= NONE_IN_TARGET <= last:
            c.error(where, f"{path}: '{key}' covers the target 3.{NONE_IN_TARGET}, which "
                           "none_raises describes")
        if first <= last_seen:
            c.error(where, f"{path}: '{key}' overlaps or precedes the range before it")
        last_seen = last
        entry = NoneIn(first, last)
        if value == "accepted":
            entry.accepted = True
            if t.get("kind") not in ("pointer", "callable"):
                c.error(where, f"{path}: '{key}' = \"accepted\" needs a pointer or callable "
                               f"type (NULL is passed on), not '{p.type}'")
        else:
            if isinstance(value, list):
                value = {"raises": value}
            if not isinstance(value, dict) or not c.keys(where, value, f"{path}.{key}",
                                                          ["raises"], ["after"]):
                if not isinstance(value, dict):
                    c.error(where, f"{path}: '{key}' must be [\"Exc\", \"message\"], "
                                   "{ raises, after } or \"accepted\"")
                continue
            nr = value["raises"]
            if (not isinstance(nr, list) or len(nr) != 2
                    or not all(isinstance(v, str) for v in nr)):
                c.error(where, f"{path}: '{key}' raises must be [\"ExceptionType\", \"message\"]")
                continue
            if nr[0] not in exceptions:
                c.error(where, f"{path}: unknown exception type '{nr[0]}' "
                               "(not in include/casyncio/exceptions.h)")
            entry.raises = (nr[0], nr[1])
            after = value.get("after", "")
            if after:
                hook = state_checks.get(after) if isinstance(after, str) else None
                if hook is None:
                    c.error(where, f"{path}: '{key}' after '{after}' is not one of "
                                   "gen/layout.toml [state_checks]")
                elif isinstance(owner, str) and hook.get("owner") != owner:
                    c.error(where, f"{path}: '{key}' after '{after}' is for owner "
                                   f"'{hook.get('owner')}', not '{owner}'")
                else:
                    entry.after = after
        p.none_in.append(entry)


def _check_param(c, where, p, raw, types, exceptions, accepts_none=(), fixtures=(),
                 state_checks=None, owner=None):
    path = f"params.{p.name}"
    if not isinstance(raw, dict):
        c.error(where, f"{path} must be a table")
        return
    if not c.keys(where, raw, path, ["type"], ["doc", "none_raises", "none_check",
                                               "none_in", "versions", "cases"]):
        return
    if "cases" in raw:
        _check_cases(c, where, raw, fixtures, path)
        p.cases = raw["cases"] if isinstance(raw["cases"], dict) else {}
    p.type = c.string(where, raw, "type", path)
    p.doc = c.string(where, raw, "doc", path).strip()
    p.versions = c.string(where, raw, "versions", path).strip()
    t = types.get(p.type)
    if t is None:
        c.error(where, f"{path}: unknown type '{p.type}'")
        return
    if p.type == "none":
        c.error(where, f"{path}: a parameter cannot be of type none")
    variadic = t.get("kind") == "variadic"
    if p.star and not variadic:
        c.error(where, f"{path}: {p.star}{p.name} needs a variadic type, not '{p.type}'")
    if variadic and not p.star:
        c.error(where, f"{path}: type '{p.type}' is only for *args or **kwargs")
    if "none_raises" in raw:
        nr = raw["none_raises"]
        if (not isinstance(nr, list) or len(nr) != 2
                or not all(isinstance(v, str) for v in nr)):
            c.error(where, f"{path}: none_raises must be [\"ExceptionType\", \"message\"]")
        else:
            if nr[0] not in exceptions:
                c.error(where, f"{path}: unknown exception type '{nr[0]}' in none_raises "
                               "(not in include/casyncio/exceptions.h)")
            if not p.required and not _none_raises_when_optional(p, t, accepts_none):
                c.error(where, f"{path}: none_raises on a parameter that takes None (it is "
                               "not required, and its default is None or its type accepts "
                               "None)")
            p.none_raises = (nr[0], nr[1])
    if "none_check" in raw:
        p.none_check = c.string(where, raw, "none_check", path)
        if p.none_check not in ("glue", "runtime"):
            c.error(where, f"{path}: none_check must be \"glue\" or \"runtime\"")
        elif p.none_check == "runtime" and "none_raises" not in raw:
            c.error(where, f"{path}: none_check without none_raises")
        elif p.none_check == "runtime" and t.get("kind") not in ("pointer", "callable"):
            c.error(where, f"{path}: none_check = \"runtime\" needs a pointer or callable "
                           f"type (NULL is passed on), not '{p.type}'; a scalar's None check "
                           "follows a state_check instead")
    if "none_in" in raw:
        _check_none_in(c, where, p, raw, t, exceptions, state_checks or {}, owner)
    d = p.default
    if d is None:
        return
    kind, none = t.get("kind"), t.get("none")
    if kind == "scalar" and none == "bool":
        fits = d.kind in ("none", "bool")
    elif kind == "scalar":
        fits = d.kind in ("none", "int", "float", "constant") or (
            d.kind == "bool" and t.get("c") != "double")
        if d.kind == "float" and t.get("c") != "double":
            fits = False
    elif kind == "pointer":
        fits = d.kind == "none" or (d.kind == "str" and t.get("c") == "const char *") or (
            d.kind == "bytes" and t.get("c") == "const void *")
    else:
        fits = d.kind == "none"
    if not fits:
        c.error(where, f"{path}: default '{d.text}' does not fit type '{p.type}'")


def _check_returns(c, where, raw, key, types):
    if isinstance(raw, str):
        ret = Returns(type=raw)
    elif isinstance(raw, dict):
        if not c.keys(where, raw, key, ["type"], ["ownership", "doc"]):
            return None
        ret = Returns(type=c.string(where, raw, "type", key),
                      ownership=c.string(where, raw, "ownership", key),
                      doc=c.string(where, raw, "doc", key).strip())
        if ret.ownership and ret.ownership not in OWNERSHIP:
            c.error(where, f"{key}: unknown ownership '{ret.ownership}' (new or borrowed)")
    else:
        c.error(where, f"key '{key}' must be a type name or a table")
        return None
    if ret.type not in types:
        c.error(where, f"{key}: unknown type '{ret.type}'")
        return None
    if types[ret.type].get("kind") == "variadic":
        c.error(where, f"{key}: type '{ret.type}' is only for *args or **kwargs")
    return ret


# --------------------------------------------------------------------------
# The whole spec


def load_spec(spec_dir, layout, exceptions):
    """Reads and validates spec_dir; returns a Spec or raises SpecError.

    layout: the table of gen/layout.toml; exceptions: the exception names
    (without aio_) that raises may use.
    """
    errors = []
    try:
        present = sorted(n for n in os.listdir(spec_dir) if n.endswith(".toml"))
    except OSError as e:
        raise SpecError([f"{spec_dir}: (directory): cannot read: {e.strerror}"])
    known = set(layout["files"]) | set(SPECIAL_FILES)
    for name in present:
        if name not in known:
            errors.append(f"{name}: (file): not a spec file (gen/layout.toml lists the "
                          "item files)")
    for name in SPECIAL_FILES:
        if name not in present:
            errors.append(f"{name}: (file): missing")
    if errors:
        raise SpecError(errors)

    def read(name):
        return _read_toml(os.path.join(spec_dir, name), name, errors)

    owners_data, types_data, status_data = (read(n) for n in SPECIAL_FILES)
    if errors:
        raise SpecError(errors)
    owners = _check_owners(owners_data, "owners.toml", errors)
    args_test = layout.get("args_test", {})
    types, constants = _check_types(types_data, "types.toml", errors,
                                    set(args_test.get("fixtures", [])))
    if errors:
        raise SpecError(errors)

    item_files = [n for n in layout["files"] if n in present]
    items, seen = [], {}
    ctx = (owners, types, constants, layout["pages"], set(exceptions),
           layout.get("state_checks", {}), set(layout.get("accepts_none", [])),
           set(args_test.get("fixtures", [])))
    for name in item_files:
        data = read(name)
        if data is None:
            continue
        c = Checker(name, errors)
        c.keys("(file)", data, "", [], ["item"])
        for index, raw in enumerate(c.tables("(file)", data, "item"), 1):
            item = _check_item(c, index, raw, ctx)
            if item is None:
                continue
            if item.id in seen:
                c.error(item.id, f"duplicate item (first in {seen[item.id]})")
                continue
            seen[item.id] = name
            items.append(item)

    c = Checker("status.toml", errors)
    c.keys("(file)", status_data, "", ["implemented"], [])
    implemented = c.strings("(file)", status_data, "implemented")
    dupes = set()
    for item_id in implemented:
        if item_id not in seen and not errors_about(errors, item_id):
            c.error(item_id, "unknown item in implemented")
        if implemented.count(item_id) > 1 and item_id not in dupes:
            dupes.add(item_id)
            c.error(item_id, "listed twice in implemented")

    if errors:
        raise SpecError(errors)
    return Spec(dir=spec_dir, files=list(SPECIAL_FILES) + item_files,
                item_files=item_files, owners=owners, types=types,
                constants=constants, items=items, implemented=implemented)


def errors_about(errors, item_id):
    """True when an item of that id was rejected (so status need not repeat it)."""
    return any(f": {item_id}: " in e for e in errors)
