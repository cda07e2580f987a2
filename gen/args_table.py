"""The argument table test: the same calls in C and in Python.

build(api, layout) makes, from the spec, one case per call: every public
function or method that takes parameters is called once with valid
arguments, then once per parameter and value, with that parameter set to
None, to an explicit zero and to each bad value of its type (types.toml
`cases`, or the parameter's own) while the others stay valid. Each case runs
once per state of its owner's object (gen/layout.toml [args_test.states]),
on fresh fixtures. generated/tests/args_table.c and args_table.py make the
calls; tests/args/run.py compares the C program's lines with those CPython
3.11.7 printed.

How a value is written in C follows the documented conventions, so the test
checks those too:

- None: NULL for pointers and callables, AIO_NONE for numbers and optional
  bools; not written where C has no None (a required bool, a signal number,
  bytes), and then not tested.
- Zero: AIO_ZERO for numbers whose 0 means "left out", AIO_FALSE for
  optional bools, plain 0 where the C type has no "left out" (a signal
  number), "" for strings.
- Anything else: the literal, or the fixture of that name (fx->rfd).

A case of an item the runtime does not implement is made in C only, on the
first state: its line must be NotImplementedError. Struct-style owners
(protocols, policies) have no glue and no cases.
"""

from dataclasses import dataclass, field

from c_model import c_call, c_string, decl
from spec_model import SpecError, parse_case_value


@dataclass
class Case:
    name: str               # loop.call_later(delay=None)
    owner: str              # owners.toml name
    states: list            # the states it runs in
    implemented: bool
    c_lines: list           # the C statement making the call and reporting it
    py_expr: str = ""       # the Python call, on fixtures `fx`
    py_report: str = ""     # how Python reports the outcome
    stub: str = ""          # for a stub: the NotImplementedError message


@dataclass
class Table:
    cases: list
    states: dict            # owner -> states
    untested: list = field(default_factory=list)  # (item, reason)

    @property
    def owners(self):
        return [o for o in self.states if any(c.owner == o for c in self.cases)]


def c_literal(kind, value):
    if kind == "float":
        if value != value:
            return "NAN"
        if value in (float("inf"), float("-inf")):
            return "INFINITY" if value > 0 else "-INFINITY"
        return repr(value)
    return str(value)


def py_literal(kind, value):
    if kind == "none":
        return "None"
    if kind == "bool":
        return "True" if value else "False"
    if kind == "float" and (value != value or value in (float("inf"), float("-inf"))):
        return f"float('{value}')"
    if kind == "str":
        return repr(value)
    if kind == "fixture":
        return f"fx.{value}"
    return repr(value)


def label(kind, value):
    """How the case's name shows a value: as Python writes it, or the fixture."""
    if kind == "fixture":
        return value
    if kind == "float" and (value != value or value in (float("inf"), float("-inf"))):
        return str(value)
    return py_literal(kind, value)


class Builder:
    def __init__(self, api, layout):
        self.api = api
        self.types = api.spec.types
        at = layout.get("args_test", {})
        self.fixtures = set(at.get("fixtures", []))
        self.states = at.get("states", {})
        self.selfs = at.get("self", {})
        self.errors = []

    def c_value(self, f, kind, value):
        """The C spelling of a value for field f, or None when C cannot write it."""
        t = self.types[f.param.type]
        tkind, none = t["kind"], t["none"]
        pointer = tkind in ("pointer", "callable")
        if kind == "none":
            if pointer:
                return "NULL"
            if none == "zero" or (none == "bool" and f.ctype == "int"):
                return "AIO_NONE"
            return None
        if kind == "fixture":
            return f"fx->{value}"
        if kind == "str":
            return c_string(value) if f.ctype == "const char *" else None
        if pointer:
            return None
        if kind == "bool":
            if none != "bool":
                return None
            if f.ctype == "int":
                return "AIO_TRUE" if value else "AIO_FALSE"
            return "true" if value else "false"
        if none == "bool":
            return None
        if value == 0:
            return "AIO_ZERO" if none == "zero" else "0"
        return c_literal(kind, value)

    def values(self, f, implemented, item):
        """(valid, variants) for field f: valid is (label, c, py) or None;
        variants are (label, c, py)."""
        p = f.param
        t = self.types[p.type]
        cases = dict(t.get("cases", {}))
        cases.update(p.cases)
        valid = None
        if p.required:
            text = cases.get("valid")
            if text is None:
                if implemented:
                    self.errors.append(
                        f"{item.item.file}: {item.item.id}: params.{p.name}: the argument "
                        f"table test needs a valid value: give types.{p.type} (or the "
                        "parameter) cases.valid")
                valid = ("", "0", "None")
            else:
                kind, value = parse_case_value(text, self.fixtures)
                c = self.c_value(f, kind, value)
                if c is None:
                    self.errors.append(f"{item.item.file}: {item.item.id}: params.{p.name}: "
                                       f"cases.valid '{text}' cannot be written in C")
                    c = "0"
                valid = (label(kind, value), c, py_literal(kind, value))
        variants = []
        texts = ["None"] + ([cases["zero"]] if "zero" in cases else []) + cases.get("bad", [])
        for text in texts:
            kind, value = parse_case_value(text, self.fixtures)
            c = self.c_value(f, kind, value)
            if c is None:
                continue            # C's types rule it out
            v = (label(kind, value), c, py_literal(kind, value))
            if valid is not None and v[1] == valid[1]:
                continue            # the valid case already makes it
            if v not in variants:
                variants.append(v)
        return valid, variants

    def report(self, func, item):
        """(C report function, Python report kind) for func's result."""
        if item.kind in ("coroutine", "awaitable"):
            return "args_report_future", "coro"
        if func.role == "set":
            return "args_report_none", "none"
        rtype = item.item.returns.type if item.item.returns else "none"
        if func.ret == "int":
            kind = rtype if rtype in ("none", "bool") else "int"
            return f"args_report_{kind}", kind
        if func.ret == "int64_t":
            return "args_report_int64", "int"
        if func.ret == "double":
            return "args_report_double", "value"
        if func.ret.endswith("*"):
            if item.item.returns and item.item.returns.ownership == "new":
                return "args_report_new", "value"
            return "args_report_ptr", "value"
        self.errors.append(f"{item.item.file}: {item.item.id}: the argument table test "
                           f"cannot report a result of C type '{func.ret}'")
        return "args_report_ptr", "value"

    def build(self):
        cases, untested = [], []
        for it in self.api.items:
            if it.form == "callback":
                if it.implemented and any(not f.companion for f in it.fields):
                    untested.append((it.python_name, "a method of a struct the caller or the "
                                                     "runtime fills in: no glue checks its "
                                                     "arguments"))
                continue
            for func in it.funcs:
                cases += self.func_cases(it, func, untested)
        if self.errors:
            raise SpecError(self.errors)
        return Table(cases=cases, states={o: s for o, s in self.states.items()},
                     untested=untested)

    def func_cases(self, it, func, untested):
        fields = func.params + (func.fields if func.struct else [])
        params = [f for f in fields if not f.companion and f.param is not None
                  and not f.param.star and not f.param.c_only]
        if not params:
            return []
        owner = it.owner_name
        if it.implemented and owner not in self.states:
            untested.append((it.python_name, f"no fixture for a {owner} "
                                             "(gen/layout.toml [args_test.states])"))
            return []
        states = self.states.get(owner, [""])
        if not it.implemented:
            states = states[:1]
        c_fn, py_kind = self.report(func, it)
        valid, variants = {}, []
        for f in params:
            v, vs = self.values(f, it.implemented, it)
            valid[f.name] = v
            variants += [(f, x) for x in vs]
        if func.role == "set":
            prefix = f"{it.python_name} = "
            runs = ([("(valid)", {})] if valid[params[0].name] else []) + \
                [(x[0], {f.name: x}) for f, x in variants]
            names = [prefix + (valid[params[0].name][0] if n == "(valid)" else n)
                     for n, _ in runs]
        else:
            base = it.python_name[:-2] if it.python_name.endswith("()") else it.python_name
            runs = [("valid", {})] + [(f"{f.pyname}={x[0]}", {f.name: x}) for f, x in variants]
            names = [f"{base}({n})" for n, _ in runs]
        out = []
        for name, (_, over) in zip(names, runs):
            chosen = {}
            for f in params:
                chosen[f.name] = over.get(f.name, valid[f.name])
            out.append(Case(
                name=name, owner=owner, states=states, implemented=it.implemented,
                c_lines=self.c_call(it, func, fields, chosen, c_fn),
                py_expr=self.py_call(it, func, params, chosen) if it.implemented else "",
                py_report=py_kind,
                stub="" if it.implemented else f"{func.spelling} is not implemented yet"))
        return out

    def c_self(self, it, func):
        if not func.self_:
            return []
        fixture = self.selfs.get(it.owner_name)
        if fixture:
            return [f"fx->{fixture}"]
        # A stub never looks at its object.
        return [f"({func.self_[0]})fx->stand_in"]

    def c_call(self, it, func, fields, chosen, c_fn):
        """The body of the case's C function: the arguments, the call and
        its report."""
        lines, args = [], self.c_self(it, func)
        if func.struct:
            inits = []
            for f in fields:
                v = chosen.get(f.name)
                if v is not None and v[1] not in ("0", "NULL"):
                    inits.append(f".{f.name} = {v[1]}")
            if inits:
                lines += c_call(f"    const {func.struct} a = {{", inits, "};")
                args.append("&a")
            else:
                args.append("NULL")
        else:
            for f in fields:
                v = chosen.get(f.name)
                args.append(v[1] if v is not None else "NULL" if f.ctype.endswith("*") else "0")
        if func.out:
            # The return type's out-parameter: a local the call fills in.
            ctype, name = func.out
            lines.append(f"    {decl(ctype.rstrip()[:-1].rstrip(), name)} = {{0}};")
            args.append(f"&{name}")
        return lines + c_call(f"    {c_fn}(fx, {func.name}(", args, "));")

    def py_call(self, it, func, params, chosen):
        owner = it.owner_name
        target = "asyncio" if "self" not in it.owner else f"fx.{self.selfs[owner]}"
        if func.role == "set":
            v = chosen[params[0].name]
            return f"setattr({target}, {it.item.name!r}, {v[2]})"
        pos, kw = [], []
        for f in params:
            v = chosen[f.name]
            if v is None:
                continue
            if f.param.kind == "positional" and f.param.default is None:
                pos.append(v[2])
            else:
                kw.append(f"{f.pyname}={v[2]}")
        return f"{target}.{it.item.name}({', '.join(pos + kw)})"


def build(api, layout):
    return Builder(api, layout).build()
