"""The C form of the spec: names, argument structs, prototypes, glue steps.

build(spec, layout) turns the validated spec into the objects the templates
render. The rules are those of spec/README.md, "How the C form follows from
the spec"; gen/README.md lists the choices made where it is silent.
"""

import re
import textwrap
from dataclasses import dataclass, field

from spec_model import NONE_IN_NEWEST, NONE_IN_OLDEST, Param, SpecError
from version_sigs import exists_in, signature_in

# The minor versions of Python 3 an API level or a target version can name:
# AIO_PY_OLDEST to AIO_PY_NEWEST of include/casyncio/pyversion.h.
FIRST_MINOR, LAST_MINOR = 6, 13

WIDTH = 100         # code lines
DOC_WIDTH = 79      # comment lines

# Glue helper name per scalar C type (see templates/glue_helpers.h.j2).
SCALAR_HELPERS = {"int": "int", "int64_t": "int64", "double": "double"}


# --------------------------------------------------------------------------
# Text


def sentence(text, capital=False):
    """text with a closing full stop (and a capital first letter if asked).

    The spec's own text keeps its first letter: it may be a name.
    """
    text = " ".join(text.split())
    if not text:
        return ""
    if capital:
        text = text[0].upper() + text[1:]
    return text if text[-1] in ".!?" else text + "."


def paragraphs(text):
    return [" ".join(p.split()) for p in text.strip().split("\n\n") if p.strip()]


def wrap(text, first, rest=None, width=DOC_WIDTH):
    """Wraps text into lines starting with first (then rest), joined by newlines."""
    rest = first if rest is None else rest
    text = comment_safe(" ".join(text.split()))
    # Keep `code spans` on one line.
    text = re.sub(r"`[^`]*`", lambda m: m.group(0).replace(" ", "\0"), text)
    lines = textwrap.wrap(text, width=width, initial_indent=first,
                          subsequent_indent=rest, break_long_words=False,
                          break_on_hyphens=False)
    return "\n".join(line.rstrip().replace("\0", " ") for line in lines) or first.rstrip()


def comment_safe(text):
    """Text that cannot open or close a C comment."""
    return text.replace("/*", "/ *").replace("*/", "* /")


def decl(ctype, name):
    """A C declaration: "int fd", "const char *host"."""
    return f"{ctype}{name}" if ctype.endswith("*") else f"{ctype} {name}"


def c_call(head, args, tail, width=WIDTH):
    """head + args joined by ", " + tail, wrapped C style.

    One line when it fits; else the arguments aligned after the opening
    parenthesis; else (when that still overflows) one argument list on
    lines of their own, indented 4 spaces more than head.
    """
    one = head + ", ".join(args) + tail
    if len(one) <= width or not args:
        return [one]
    pieces = [a + "," for a in args[:-1]] + [args[-1] + tail]
    col = len(head)
    lines, cur = [], head + pieces[0]
    for piece in pieces[1:]:
        if len(cur) + 1 + len(piece) <= width:
            cur += " " + piece
        else:
            lines.append(cur)
            cur = " " * col + piece
    lines.append(cur)
    if all(len(line) <= width for line in lines):
        return lines
    indent = " " * (len(head) - len(head.lstrip()) + 4)
    lines, cur = [head.rstrip()], indent + pieces[0]
    for piece in pieces[1:]:
        if len(cur) + 1 + len(piece) <= width:
            cur += " " + piece
        else:
            lines.append(cur)
            cur = indent + piece
    lines.append(cur)
    return lines


def c_string(text):
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def md(text):
    """Markdown text: * and | escaped (they are code, not emphasis or cells);
    inside `code spans` only |, which a table cell needs escaped even there."""
    parts = re.split(r"(`[^`]*`)", text)
    return "".join(p.replace("|", "\\|") if p.startswith("`") and p.endswith("`") and len(p) > 1
                   else p.replace("*", "\\*").replace("|", "\\|") for p in parts)


def slug(title):
    """The anchor GitHub gives a heading."""
    text = re.sub(r"[^\w\- ]", "", title.strip().lower())
    return text.replace(" ", "-")


def if_lines(conds, op, width=WIDTH - 4):
    """`if (a op b) {` on one line, or one condition a line when too long."""
    one = "if (" + f"{op} ".join(conds) + ") {"
    if len(one) <= width:
        return [one]
    out = ["if (" + conds[0] + op]
    out += ["    " + c + op for c in conds[1:-1]]
    return out + ["    " + conds[-1] + ") {"]


def version_words(since, gone):
    """since_3_11, until_3_12 or since_3_7_until_3_12: for reserved names."""
    words = ([f"since_3_{since}"] if since else []) + ([f"until_3_{gone}"] if gone else [])
    return "_".join(words)


def level_condition(since, gone):
    """The preprocessor condition under which an API level has the item."""
    parts = ([f"AIO__LEVEL_MAX >= AIO_PY(3, {since})"] if since else []) + \
        ([f"AIO__LEVEL_MIN < AIO_PY(3, {gone})"] if gone else [])
    return " && ".join(parts)


def version_sentence(since, gone):
    """"Since 3.11." / "Removed in 3.11." / both."""
    out = []
    if since:
        out.append(f"Since 3.{since}.")
    if gone:
        out.append(f"Removed in 3.{gone}.")
    return " ".join(out)


def version_span(present):
    """(since, gone) from {minor: bool} over FIRST_MINOR..LAST_MINOR: the
    first minor that has it (0 when the oldest has), the first that no longer
    has it after the last that does (0 when the newest has)."""
    have = sorted(m for m, p in present.items() if p)
    if not have:
        return 0, 0
    since = have[0] if have[0] > min(present) else 0
    gone = have[-1] + 1 if have[-1] < max(present) else 0
    return since, gone


def availability(item, constants):
    """(since, gone, {param name: (since, gone)}) of a spec item, from its
    history (gen/version_sigs.py), per minor version of 3.x."""
    exists = {m: exists_in(item, (3, m, 999)) for m in range(FIRST_MINOR, LAST_MINOR + 1)}
    since, gone = version_span(exists)
    params = {}
    names = [p.name for p in item.params]
    sigs = {}
    for m, there in exists.items():
        if there:
            got, problems = signature_in(item, (3, m, 999), constants)
            # A version the spec cannot say is left out of the span: the
            # versions it can say decide.
            if not problems and got is not None:
                sigs[m] = {p.name for p in got}
    for name in names:
        present = {m: name in s for m, s in sigs.items()}
        if present:
            params[name] = version_span(present)
    return since, gone, params


# --------------------------------------------------------------------------
# The model


@dataclass
class CField:
    name: str               # the C name (Python's, or with a trailing _)
    pyname: str             # the Python parameter it stands for
    ctype: str              # in the public struct or prototype
    impl_ctype: str         # in the resolved struct of src/impl.h
    default: str            # "required", "*args", "**kwargs", a Python default, or ""
    values: list            # ["AIO_ZERO: 0", ...]: explicit values worth knowing
    doc: str                # one or more sentences
    companion: bool = False
    is_none: bool = False   # the resolved struct has <name>_is_none
    glue: str = "copy"      # how the glue resolves it (see CFunc.glue_lines)
    glue_default: str = ""  # the C default value the glue applies
    none_raises: tuple = None
    none_check: str = "glue"    # "runtime": the glue passes NULL on (spec none_check)
    renamed: str = ""       # why the C name differs from Python's
    param: object = None    # the spec Param (None for a companion)
    include: str = ""       # the system header defining glue_default
    zero_is_none: bool = False  # a required handle (none = "zero"): in a struct, 0 is None
    since: int = 0          # the minor version of 3.N that added the parameter (0: always there)
    gone: int = 0           # the minor version that removed it (0: still there)

    @property
    def gated(self):
        return bool(self.since or self.gone)

    @property
    def level_condition(self):
        """The #if under which the field has its own name."""
        return level_condition(self.since, self.gone)

    @property
    def hidden_name(self):
        """The field's reserved name where the API level leaves it out."""
        return "aio__" + version_words(self.since, self.gone) + "_" + self.name

    @property
    def decl(self):
        return decl(self.ctype, self.name) + ";"

    @property
    def impl_decl(self):
        return decl(self.impl_ctype, self.name) + ";"

    @property
    def zero(self):
        """How C writes a field left out: 0 for numbers, NULL for pointers."""
        pointer = self.ctype.startswith("aio_") and self.impl_ctype == self.ctype
        return "NULL" if self.ctype.endswith("*") or pointer else "0"

    @property
    def note(self):
        """The struct field's trailing comment: what a field left 0 (or NULL)
        means and how to write the values it cannot."""
        if self.companion or not self.default:
            return ""
        if self.default in ("required", "*args", "**kwargs"):
            head = self.default
        elif self.default in ("0", "0.0"):
            head = f"= {self.default} (default)"
        else:
            head = f"{self.zero}: {self.default} (default)"
        values = self.values
        if self.default != "required":
            # What a real 0 (or None) is written as; the doc comment has the rest.
            values = [v for v in values if not v.startswith(("AIO_NONE raises", "AIO_TRUE"))]
        return "; ".join([head] + values)

    @property
    def default_text(self):
        """"required", "*args", "default None when NULL", or "" (companions,
        callbacks)."""
        if self.default in ("", "required"):
            return self.default
        if self.default in ("*args", "**kwargs"):
            # The type's doc of a variadic says "*args: ..." already.
            return "" if self.doc.startswith(self.default) else self.default
        if self.default in ("0", "0.0"):
            return "default " + self.default
        return f"default {self.default} when {self.zero}"

    @property
    def header_text(self):
        text = self.ctype + (f"; {self.default_text}" if self.default_text else "")
        if self.values:
            text += " (" + "; ".join(self.values) + ")"
        text += "."
        if self.renamed:
            text += " " + self.renamed
        if self.doc:
            text += " " + self.doc
        return text


@dataclass
class CFunc:
    """One public C function with its impl function."""
    item: object            # the CItem
    name: str               # aio_loop_call_later
    impl: str               # aio__loop_call_later
    ret: str                # C return type
    error: str              # C error value expression
    self_: tuple            # (ctype, name) or None
    params: list            # CField: direct parameters (empty for struct form)
    struct: str = ""        # aio_loop_call_later_args, for the struct form
    impl_struct: str = ""   # aio__loop_call_later_args
    fields: list = field(default_factory=list)   # CField of the struct
    role: str = "call"      # call | get | set
    out: tuple = None       # (ctype, name): the return type's out-parameter, last
    pyname: str = ""        # for the descriptor error: call_later
    spelling: str = ""      # for NotImplementedError: loop.call_later()

    def _params(self, impl):
        out = [decl(*self.self_)] if self.self_ else []
        # Direct parameters; with c_form "split", the leading ones before the struct.
        out += [decl(f.ctype, f.name) for f in self.params]
        if self.struct:
            name = self.impl_struct if impl else self.struct
            out.append(f"const {name} *args")
        if self.out:
            out.append(decl(*self.out))
        return out or ["void"]

    def _head(self, prefix, name):
        return f"{prefix}{decl(self.ret, name)}("

    def prototype(self, prefix="AIO_API ", levels=False):
        """levels: with the API level's macros first (the header)."""
        if levels and self.item.level_macros:
            prefix = self.item.level_macros + " " + prefix
        return "\n".join(c_call(self._head(prefix, self.name), self._params(False), ");"))

    def definition(self):
        return "\n".join(c_call(self._head("", self.name), self._params(False), ")"))

    def impl_prototype(self):
        return "\n".join(c_call(self._head("", self.impl), self._params(True), ");"))

    def impl_definition(self):
        return "\n".join(c_call(self._head("", self.impl), self._params(True), ")"))

    @property
    def pointer_type(self):
        """The function's type as a pointer declarator around (*f)."""
        return self.ret, [_strip_name(p) for p in self._params(False)]

    def check_lines(self, var="f"):
        ret, types = self.pointer_type
        head = f"        {decl(ret, '(*' + var + ')')}("
        lines = c_call(head, types, f") = {self.name};")
        if max(len(line) for line in lines) <= WIDTH:
            return lines
        return c_call(head, types, ") =") + [f"            {self.name};"]

    def stub_lines(self):
        """The stub's statement that raises NotImplementedError."""
        msg = c_string(f"{self.spelling} is not implemented yet")
        return c_call("    aio_err_set(", ["aio_NotImplementedError", msg], ");")

    @property
    def self_name(self):
        return self.self_[1] if self.self_ else ""

    @property
    def unused(self):
        """Names a stub casts to void."""
        names = [self.self_[1]] if self.self_ else []
        if self.struct:
            names = names + ["args"]
        else:
            names = names + [f.name for f in self.params]
        return names + ([self.out[1]] if self.out else [])

    @property
    def checks_arguments(self):
        """Whether the glue checks the arguments: only of what the runtime
        implements. A stub raises NotImplementedError whatever it is given;
        its glue does not guess at checks nothing verifies yet."""
        return self.item.implemented

    def state_check_lines(self, hooks):
        """The runtime's state check that comes before the arguments' (spec
        state_check), as statements."""
        name = self.item.item.state_check
        if not name or not self.checks_arguments:
            return []
        return [f"if ({hooks[name]['func']}({self.self_name}) < 0)", f"    return {self.error};"]

    # -- version gates (layout.toml [version_gates])

    def target_expr(self, gates):
        """The target version the gates compare: the loop's for a loop
        method, the object's loop's where layout.toml owner_loop reaches it,
        else the running loop's (the process default outside one)."""
        if self.self_ and self.self_[0] == "aio_loop *":
            return f"aio_loop_get_target_version({self.self_name})"
        get_loop = gates.get("owner_loop", {}).get(self.item.owner_name)
        if self.self_ and get_loop and self.item.kind != "constructor":
            return f"aio_loop_get_target_version({get_loop}({self.self_name}))"
        return "aio__current_target_version()"

    def version_gate_lines(self, gates):
        """The item is not there at the target: AttributeError, as CPython's
        attribute lookup raises before anything else."""
        it = self.item
        if not it.gated:
            return []
        target = self.target_expr(gates)
        conds = ([f"{target} < AIO_PY(3, {it.since})"] if it.since else []) + \
            ([f"{target} >= AIO_PY(3, {it.gone})"] if it.gone else [])
        if self.self_ and it.kind != "constructor":
            cls = gates.get("object_class", {}).get(it.owner_name, it.pyclass)
            msg = f"'{cls}' object has no attribute '{it.name}'"
        else:
            msg = f"module 'asyncio' has no attribute '{it.name}'"
        lines = if_lines(conds, " ||")
        lines += c_call("    aio_err_set(", ["aio_AttributeError", c_string(msg)], ");",
                        width=WIDTH - 4)
        return lines + [f"    return {self.error};", "}"]

    def unexpected_call(self, gates, pyname, target):
        """The statement raising CPython's TypeError for an unexpected
        keyword argument: a fixed message (layout.toml unexpected), else
        QUALNAME() got ... from 3.10 on and NAME() got ... before."""
        it = self.item
        fixed = gates.get("unexpected", {}).get(it.item.id)
        if fixed:
            return c_call("    aio_err_set(", ["aio_TypeError",
                                                c_string(fixed.replace("{param}", pyname))], ");",
                          width=WIDTH - 4)
        qual = gates.get("qualname", {}).get(it.item.id)
        if qual is None:
            if it.owner_name == "loop":
                qual = f"BaseEventLoop.{it.name}"
            elif self.self_ and it.kind != "constructor":
                qual = f"{it.pyclass}.{it.name}"
            else:
                qual = it.name
        return c_call("    aio__glue_unexpected_keyword(", [target, c_string(qual),
                                                            c_string(pyname)], ");",
                      width=WIDTH - 4)

    def clinic_lines(self, spelling, target):
        """Argument Clinic's count check, before its unknown-keyword one:
        the arguments given (the required positional ones and every
        keyword given a value) against the parameters the target has."""
        required = [f for f in self.params if not f.companion
                    and not (f.param is not None and f.param.c_only)]
        keywords = [f for f in (self.fields if self.struct else []) if not f.companion
                    and not (f.param is not None and f.param.c_only)]
        given = [str(len(required))] + [f"(args->{f.name} != {f.zero})" for f in keywords]
        most = [str(len(required))]
        for f in keywords:
            ver = ([f"target >= AIO_PY(3, {f.since})"] if f.since else []) + \
                ([f"target < AIO_PY(3, {f.gone})"] if f.gone else [])
            most.append("(" + " && ".join(ver) + ")" if ver else "1")
        lines = [f"    int target = {target};"]
        lines += c_call("    int given = ", [" + ".join(given)], ";", width=WIDTH - 4)
        lines += c_call("    int most = ", [" + ".join(most)], ";", width=WIDTH - 4)
        lines += ["    if (given > most) {"]
        lines += c_call("        aio_err_format(",
                        ["aio_TypeError", c_string(spelling[:-2] + "() takes at most %d "
                                                   "arguments (%d given)"
                                                   if spelling.endswith("()") else spelling),
                         "most", "given"], ");", width=WIDTH - 4)
        lines += [f"        return {self.error};", "    }"]
        return lines

    def param_gate_lines(self, gates):
        """An argument given a value that the target's CPython has no
        parameter for: TypeError, as CPython's argument binding raises
        before the function's body runs. Left out (0 or NULL), it passes."""
        if not self.checks_arguments:
            return []
        lines = []
        fields = [(f, False) for f in self.params] + \
            [(f, True) for f in (self.fields if self.struct else [])]
        for f, in_struct in fields:
            if not (f.since or f.gone) or f.companion:
                continue
            target = self.target_expr(gates)
            get = ("args->" if in_struct else "") + f.name
            given = [f"args != NULL", f"{get} != {f.zero}"] if in_struct else \
                [f"{get} != {f.zero}"]
            ver = ([f"{target} < AIO_PY(3, {f.since})"] if f.since else []) + \
                ([f"{target} >= AIO_PY(3, {f.gone})"] if f.gone else [])
            vcond = ver[0] if len(ver) == 1 else "(" + " || ".join(ver) + ")"
            lines += if_lines(given + [vcond], " &&")
            clinic = gates.get("clinic", {}).get(self.item.item.id)
            if clinic:
                lines += self.clinic_lines(clinic, target)
            lines += self.unexpected_call(gates, f.pyname, target)
            lines += [f"    return {self.error};", "}"]
        return lines

    def none_in_lines(self, f, get, gates, hooks):
        """The opening of the chain that gives a None its meaning at other
        targets than none_raises's (spec none_in): one block per range,
        each "raise" (after its state check) or "pass None on"; the
        caller's own check follows as the chain's last `else`."""
        entries = f.param.none_in if f.param is not None else []
        if not entries or f.glue not in ("raise_if_null", "required", "default"):
            return []
        none = f"{get} == NULL" if f.glue == "raise_if_null" else f"{get} == AIO_NONE"
        target = self.target_expr(gates or {})
        lines = []
        for e in entries:
            cond = [none]
            if e.first > NONE_IN_OLDEST:
                cond.append(f"{target} >= AIO_PY(3, {e.first})")
            if e.last < NONE_IN_NEWEST:
                cond.append(f"{target} < AIO_PY(3, {e.last + 1})")
            opening = if_lines(cond, " &&")
            if lines:
                opening[0] = "} else " + opening[0]
                lines.pop()  # the previous block's closing brace
            lines += opening
            if e.accepted:
                span = f"3.{e.first}" + (f"-3.{e.last}" if e.last != e.first else "")
                lines.append(f"    /* {span}: None is passed on to the runtime */")
            else:
                if e.after:
                    lines += [f"    if ({hooks[e.after]['func']}({self.self_name}) < 0)",
                              f"        return {self.error};"]
                lines += c_call("    aio_err_set(", [f"aio_{e.raises[0]}", c_string(e.raises[1])],
                                ");", width=WIDTH - 4)
                lines.append(f"    return {self.error};")
            lines.append("}")
        lines.pop()
        lines.append("} else")
        return lines

    def glue_lines(self, gates=None, hooks=None):
        """The statements that resolve the arguments, one string per line."""
        lines = []
        fail = f"return {self.error};"
        if not self.checks_arguments:
            return []
        # The direct parameters (the leading ones of c_form "split"), then
        # the struct's fields.
        fields = [(f, False) for f in self.params] + \
            [(f, True) for f in (self.fields if self.struct else [])]
        for f, in_struct in fields:
            src = "args->" if in_struct else ""
            dst = "r." if in_struct else ""
            get, out = src + f.name, dst + f.name
            chain = self.none_in_lines(f, get, gates, hooks)
            if chain:
                # "} else" joins the chain to the check below
                lines += chain[:-1]
                lines.append("} else {")
                inner = self._resolve_lines(f, in_struct, get, out, fail)
                copy = [inner.pop()] if f.glue == "raise_if_null" and in_struct else []
                lines += ["    " + ln for ln in inner]
                lines.append("}")
                lines += copy   # an accepted NULL is passed on too
                continue
            lines += self._resolve_lines(f, in_struct, get, out, fail)
        return lines

    def _resolve_lines(self, f, in_struct, get, out, fail):
        """One argument's statements (glue_lines)."""
        lines = []
        if f.glue == "copy":
            if in_struct:
                lines.append(f"{out} = {get};")
            return lines
        if f.glue == "raise_if_null":
            exc, msg = f.none_raises
            lines += [f"if ({get} == NULL) {{"]
            lines += c_call("    aio_err_set(", [f"aio_{exc}", c_string(msg)], ");",
                            width=WIDTH - 4)
            lines += [f"    {fail}", "}"]
            if in_struct:
                lines.append(f"{out} = {get};")
            return lines
        if f.glue == "str_default":
            lines.append(f"{out} = {get} != NULL ? {get} : {f.glue_default};")
            return lines
        helper = "aio__glue_" + SCALAR_HELPERS.get(f.impl_ctype, "bool")
        if f.glue == "required":
            exc, msg = f.none_raises or ("TypeError", f"{self._who(f)} must not be None")
            if f.zero_is_none and in_struct:
                helper = "aio__glue_handle"
            call = c_call(f"if ({helper}(", [f"&{out}", get, f"aio_{exc}", c_string(msg)],
                          ") < 0)", width=WIDTH - 4)
            lines += call + [f"    {fail}"]
        elif f.glue == "default":
            exc, msg = f.none_raises or ("TypeError", f"{self._who(f)} must not be None")
            call = c_call(f"if ({helper}_default(",
                          [f"&{out}", get, f.glue_default, f"aio_{exc}", c_string(msg)],
                          ") < 0)", width=WIDTH - 4)
            lines += call + [f"    {fail}"]
        elif f.glue == "or_none":
            lines += c_call(f"{helper}_or_none(", [f"&{out}", f"&{out}_is_none", get], ");",
                            width=WIDTH - 4)
        elif f.glue == "default_or_none":
            lines += c_call(f"{helper}_default_or_none(",
                            [f"&{out}", f"&{out}_is_none", get, f.glue_default], ");",
                            width=WIDTH - 4)
        elif f.glue == "bool_default":
            lines.append(f"{out} = aio__glue_bool_default({get}, {f.glue_default});")
        elif f.glue == "bool_or_none":
            lines += c_call("aio__glue_bool_or_none(", [f"&{out}", f"&{out}_is_none", get],
                            ");", width=WIDTH - 4)
        else:
            raise AssertionError(f.glue)
        return lines

    def _who(self, f):
        if self.role == "set":
            return self.item.python_name
        return f"{self.item.name}() argument '{f.pyname}'"

    def impl_call(self):
        args = [self.self_[1]] if self.self_ else []
        args += [f.name for f in self.params]
        if self.struct:
            # A stub is given no arguments: it looks at none.
            args.append("&r" if self.checks_arguments else "NULL")
        if self.out:
            args.append(self.out[1])
        return "\n".join(c_call(f"    return {self.impl}(", args, ");"))


def _strip_name(param):
    """"const char *host" -> "const char *"; "int fd" -> "int"; "void" -> "void"."""
    if param == "void":
        return param
    head, _, name = param.rpartition("*")
    if head:
        return head + "*"
    return param.rsplit(" ", 1)[0]


@dataclass
class CItem:
    item: object
    owner: dict
    owner_name: str
    python_name: str        # loop.call_later, or loop.call_later() for a callable
    python_sig: str         # loop.call_later(delay, callback, *args, context=None)
    funcs: list             # CFunc (none for a struct-style owner)
    fields: list            # CField: the args struct, or a callback's parameters
    form: str               # struct | direct | attribute | callback
    implemented: bool
    returns_text: list      # sentences on the return value(s)
    pyclass: str = ""       # for the descriptor error when self is NULL
    ret: str = ""           # callback return type (struct-style owners)
    cname: str = ""         # the C name (function or struct field)
    struct: str = ""
    since: int = 0          # the minor version of 3.N that added the item (0: always there)
    gone: int = 0           # the minor version that removed it (0: still there)

    @property
    def gated(self):
        return bool(self.since or self.gone)

    @property
    def level_macros(self):
        """What a prototype starts with where the API level may leave the
        function out (include/casyncio/pyversion.h)."""
        out = ([f"AIO__SINCE_3_{self.since}"] if self.since else []) + \
            ([f"AIO__UNTIL_3_{self.gone}"] if self.gone else [])
        return " ".join(out)

    @property
    def name(self):
        return self.item.name

    @property
    def kind(self):
        return self.item.kind

    @property
    def status(self):
        return "works" if self.implemented else "not yet"

    @property
    def has_struct(self):
        return self.form in ("struct", "split")

    @property
    def struct_fields(self):
        """The args struct's fields (with c_form "split", those after the
        leading direct parameters)."""
        return self.funcs[0].fields if self.form == "split" else self.fields

    @property
    def field_width(self):
        return max((len(f.name) for f in self.fields), default=0)

    def struct_lines(self, indent="    ", levels=False):
        """The args struct's fields, with aligned trailing comments. levels:
        a field the API level may leave out is under #if, with its reserved
        name otherwise (the header; the docs show the plain fields)."""
        decls = [indent + f.decl for f in self.struct_fields]
        col = max(len(d) for d in decls) + 2
        col = min(col, 48)
        out = []
        for d, f in zip(decls, self.struct_fields):
            note = comment_safe(f.note)
            line = f"{d.ljust(col)}/* {note} */"
            if not note:
                out.append(d)
            elif len(line) <= WIDTH:
                out.append(line)
            else:
                # Too long for the end of the line: above the field.
                above = wrap(note, indent + "/* ", indent + " * ", width=WIDTH - 3).split("\n")
                out += above[:-1] + [above[-1] + " */"]
                out.append(d)
            if levels and f.gated:
                out.insert(len(out) - 1, f"#if {f.level_condition}")
                out += ["#else", indent + decl(f.ctype, f.hidden_name) + ";", "#endif"]
        return out

    def callback_lines(self):
        """The function-pointer field of a struct-style owner."""
        self_c, self_n = self.owner["self"]["c"], self.owner["self"]["name"]
        params = [decl(self_c, self_n)] + [decl(f.ctype, f.name) for f in self.fields]
        return c_call(f"    {decl(self.ret, '(*' + self.cname + ')')}(", params, ");")

    def callback_check_lines(self, var):
        """A function pointer of the field's expected type, set from the field."""
        types = [self.owner["self"]["c"]] + [f.ctype for f in self.fields]
        return c_call(f"        {decl(self.ret, '(*' + var + ')')}(", types,
                      f") = s.{self.cname};")

    @property
    def doc_paragraphs(self):
        return paragraphs(self.item.doc) if self.item.doc else []

    @property
    def raises_text(self):
        """Sentences on what a C caller can get raised."""
        return self._raises(r for r in self.item.raises if not r.python_only)

    @property
    def python_raises_text(self):
        """Sentences on what only a Python caller can get: C's types rule
        it out (a coroutine for a callback, an object of the wrong type)."""
        return self._raises(r for r in self.item.raises if r.python_only)

    @property
    def status_line(self):
        """The doc comment's first line after the signature, for what the
        runtime does not do yet; "" when it does."""
        if self.implemented:
            return ""
        if self.form == "callback":
            return "Not called yet: the runtime does not call this method."
        return "Not implemented yet: raises NotImplementedError."

    def _raises(self, raises):
        out = []
        for r in raises:
            text = r.type + (f"({c_string(r.message)})" if r.message else "")
            when = " ".join(r.when.split())
            if not when.split(" ", 1)[0].lower() in ("when", "if", "on", "unless", "while",
                                                     "for", "after", "before"):
                when = "when " + when
            out.append(sentence(f"{text} {when}"))
        return out

    @property
    def history_lines(self):
        """[(version, text)] with the pages marked where not all carry it."""
        version_pages = [p for p in self.item.pages if p != "index"]
        out = []
        for h in self.item.history:
            text = h.change + (f" ({', '.join(h.params)})" if h.params else "") + ": "
            text += sentence(h.note)
            if h.pages and set(h.pages) != set(version_pages):
                text += " [" + ", ".join(h.pages) + "]"
            elif not h.pages:
                text += " [no page]" if self.item.pages else ""
            out.append((h.version, text))
        return out

    @property
    def version_width(self):
        return max((len(h.version) for h in self.item.history), default=0)

    @property
    def older_signatures(self):
        prefix = self.python_sig[: len(self.python_sig) - len(self.item.signature)]
        return [(page, prefix + sig) for page, sig in self.item.signature_on.items()]

    @property
    def notes(self):
        """Short facts: thread safety, availability, where it is documented."""
        out = []
        if self.item.thread_safe:
            out.append("Thread-safe.")
        if self.item.availability:
            out.append(f"Availability: {self.item.availability.rstrip('.')}.")
        if self.item.runs_in_task:
            out.append("A coroutine that runs in the calling task: it suspends the task "
                       "while it waits, and raises RuntimeError when called outside a task.")
        if self.item.source:
            out.append(f"Documented on the {self.item.source} page, not on the reference "
                       "pages.")
        if self.gated:
            out.append(version_sentence(self.since, self.gone))
        return out


@dataclass
class COwner:
    name: str
    table: dict
    items: list             # CItem

    @property
    def title(self):
        return self.table["title"]

    @property
    def style(self):
        return self.table["style"]

    @property
    def struct(self):
        return self.table.get("struct", "")

    @property
    def head(self):
        """The member a struct owner starts with (an object header), or None."""
        return self.table.get("head")

    @property
    def tail(self):
        """C-only members a struct owner ends with: [{decl, doc}]."""
        return self.table.get("tail", [])


@dataclass
class CHeader:
    name: str               # loop
    owners: list            # COwner
    files: list             # spec files it draws on

    @property
    def guard(self):
        return f"CASYNCIO_{self.name.upper()}_H"


@dataclass
class CApi:
    spec: object
    owners: list            # COwner, in owners.toml order
    headers: list           # CHeader, in order of first use
    items: list             # CItem, in header order
    funcs: list             # CFunc, every public function
    scalar_helpers: list    # (C type, helper suffix) used by the glue
    includes: list          # system headers the glue's constants need
    state_checks: dict      # gen/layout.toml [state_checks]
    version_gates: dict = field(default_factory=dict)   # gen/layout.toml [version_gates]

    @property
    def used_state_checks(self):
        """[(hook, its owner's self: (C type, name))] the glue calls, in name
        order."""
        used = sorted({i.item.state_check for i in self.items
                       if i.item.state_check and i.implemented})
        owners = self.spec.owners
        return [(self.state_checks[n], owners[self.state_checks[n]["owner"]]["self"])
                for n in used]

    @property
    def struct_owners(self):
        return [o for o in self.owners if o.style == "struct"]

    @property
    def stubs(self):
        return [f for f in self.funcs if not f.item.implemented]

    @property
    def n_works(self):
        return sum(1 for i in self.items if i.implemented)


# --------------------------------------------------------------------------
# Building


class Builder:
    def __init__(self, spec, layout):
        self.spec = spec
        self.types = spec.types
        self.accepts_none = set(layout.get("accepts_none", []))
        reserved = layout.get("reserved", {})
        self.reserved = {}
        for group, why in (("c", "a C keyword"), ("cxx", "a C++ keyword"),
                           ("macros", "a macro of the C library")):
            for word in reserved.get(group, []):
                self.reserved.setdefault(word, why)
        self.constant_headers = layout.get("constant_headers", {})
        self.errors = []

    def error(self, item, reason):
        self.errors.append(f"{item.file}: {item.id}: {reason}")

    # -- names

    def c_name(self, pyname, taken=()):
        if pyname in self.reserved:
            return pyname + "_", (f"Python's {pyname}; renamed because {pyname} is "
                                  f"{self.reserved[pyname]}.")
        if pyname in taken:
            return pyname + "_", f"Python's {pyname}; renamed because the C self is {pyname}."
        return pyname, ""

    # -- fields

    def fields(self, item, params, in_struct, taken=(), direct=False):
        out = []
        for p in params:
            out += self.param_fields(item, p, in_struct, taken, direct)
        names = [f.name for f in out]
        for n in sorted(set(names)):
            if names.count(n) > 1:
                self.error(item, f"two C fields or parameters are named '{n}' "
                                 "(a companion collides with a parameter?)")
        return out

    def param_fields(self, item, p, in_struct, taken=(), direct=False):
        t = self.types[p.type]
        kind, none, c = t["kind"], t["none"], t["c"]
        # An enum type names the C type its glue and runtime use (glue_c).
        impl_c = t.get("glue_c", c)
        name, renamed = self.c_name(p.name, taken)
        d = p.default
        python_default = ""
        if direct and d is not None and not p.c_only:
            # c_form "direct": the caller writes every argument; the Python
            # default is only named.
            python_default, d = d.text, None
            if kind == "scalar" and p.default.kind == "none" and none != "bool":
                self.error(item, f"params.{p.name}: a number defaulting to None cannot be a "
                                 "direct parameter")
        doc = sentence(p.doc) if p.doc else sentence(t["doc"], capital=True)
        if p.versions:
            doc += " " + sentence(p.versions)
        f = CField(name=name, pyname=p.name, ctype=c, impl_ctype=impl_c, default="", values=[],
                   doc=doc, renamed=renamed, none_raises=p.none_raises, param=p)
        if p.kind == "var_positional":
            f.default = "*args"
        elif p.kind == "var_keyword":
            f.default = "**kwargs"
        elif p.c_only:
            f.default = ""
            f.doc = sentence("C only. " + f.doc)
        elif python_default:
            f.default = ""
        elif d is None:
            f.default = "required"
        else:
            f.default = d.text

        if kind == "scalar":
            helper = SCALAR_HELPERS.get(impl_c)
            # A C-only parameter is copied as it is: any C type will do.
            if none != "bool" and helper is None and not p.c_only:
                self.error(item, f"params.{p.name}: type '{p.type}' has C type '{c}', which "
                                 "the glue has no helper for")
                return [f]
            if none == "bool":
                f.ctype = "int" if d is not None else "bool"
                f.impl_ctype = "bool"
                if d is None:
                    f.glue = "copy"
                elif d.kind == "none":
                    f.glue, f.is_none = "bool_or_none", True
                    f.values = ["AIO_FALSE: False", "AIO_TRUE: True"]
                else:
                    f.glue = "bool_default"
                    f.glue_default = "true" if d.value else "false"
                    f.values = ["AIO_FALSE: False"] if d.value else ["AIO_TRUE: True"]
            elif d is None:
                if none == "never":
                    f.glue = "copy"
                else:
                    f.glue = "required"
                    exc = p.none_raises[0] if p.none_raises else "TypeError"
                    f.values = [f"AIO_NONE raises {exc}" + none_in_text(p)]
                    if none == "zero" and c == "int":
                        # A descriptor: in a struct, 0 (left out) is None too,
                        # and AIO_ZERO is descriptor 0.
                        f.zero_is_none = True
                        f.values = [f"0 or AIO_NONE raises {exc}", "AIO_ZERO: descriptor 0"]
            else:
                accepts = p.type in self.accepts_none
                if d.kind == "none":
                    f.glue, f.is_none = "or_none", True
                    f.values = ["AIO_ZERO: 0"]
                else:
                    f.glue_default = self.c_value(d, c)
                    f.include = self.constant_header(d)
                    f.glue = "default_or_none" if accepts else "default"
                    f.is_none = accepts
                    f.values = [] if d.kind in ("int", "float") and d.value == 0 else \
                        ["AIO_ZERO: 0"]
                    if accepts:
                        f.values.append("AIO_NONE: None")
                    else:
                        exc = p.none_raises[0] if p.none_raises else "TypeError"
                        f.values.append(f"AIO_NONE raises {exc}" + none_in_text(p))
        else:
            if p.required and p.none_raises:
                f.glue = "raise_if_null" if p.none_check == "glue" else "copy"
                f.none_check = p.none_check
                f.values = [f"NULL raises {p.none_raises[0]}" + none_in_text(p)]
            elif d is not None and d.kind == "str":
                f.glue, f.glue_default = "str_default", c_string(d.value)
                f.default = c_string(d.value)
            elif p.required:
                f.values = ["NULL: None"]
            elif p.star:
                f.values = ["NULL: none"] if kind == "variadic" and p.kind == "var_keyword" \
                    else []
        if python_default:
            if kind != "scalar" and f.glue == "copy" and not f.values:
                f.values = [f"NULL: {python_default}"] if python_default == "None" else []
            f.values.insert(0, f"Python's default: {python_default}")
        if p.c_only:
            f.glue, f.values = "copy", []
        out = [f]
        comp = t.get("companion")
        if comp:
            out.append(CField(name=name + comp["suffix"], pyname=p.name, ctype=comp["c"],
                              impl_ctype=comp["c"], default="", values=[],
                              doc=sentence(comp["doc"], capital=True), companion=True))
        return out

    def constant_header(self, d):
        """The system header that defines a constant default, or ""."""
        if d.kind == "constant":
            for prefix, header in sorted(self.constant_headers.items()):
                if d.value.startswith(prefix) and header:
                    return header
        return ""

    def c_value(self, d, ctype):
        if d.kind == "constant":
            return d.value
        if d.kind == "bool":
            return "1" if d.value else "0"
        if ctype == "double":
            return repr(float(d.value))
        return str(d.value)

    # -- returns

    def return_of(self, type_name):
        t = self.types[type_name]
        r = t.get("returns", {})
        return r.get("c", t["c"]), r.get("error", "NULL"), r.get("doc", t["doc"])

    @staticmethod
    def error_value(ctype, error):
        return error if error else f"({ctype}){{0}}"

    def returns_text(self, item, fname=""):
        r = item.returns
        if item.runs_in_task:
            r = item.result
        elif item.kind in ("coroutine", "awaitable"):
            text = ("Returns aio_future *, a new reference: the future, or NULL with the "
                    "exception set.")
            res = item.result
            if res.type == "none":
                text += " Its result is None."
            else:
                rt = self.types[res.type]
                own = {"new": ", a new reference", "borrowed": ", borrowed"}.get(
                    res.ownership, "")
                rc = rt.get("returns", {}).get("c", rt["c"])
                text += f" Its result: {rc}{own}, {rt['doc']}."
                if res.doc:
                    text += " " + sentence(res.doc)
            return [text]
        c, _, doc = self.return_of(r.type)
        own = {"new": ", a new reference", "borrowed": ", borrowed"}.get(r.ownership, "")
        who = f"{fname}() returns" if fname else "Returns"
        text = f"{who} {c}{own}: {doc}."
        if r.doc:
            text += " " + sentence(r.doc)
        out = self.out_of(r.type)
        if out and not fname:
            text += f" {out['name']} ({out['c']}, the last parameter): {sentence(out['doc'])}"
        return [text]

    def out_of(self, type_name):
        """The out-parameter a function returning the type takes last (the
        type's returns.out: {name, c, doc}), or None."""
        return self.types[type_name].get("returns", {}).get("out")

    # -- items

    def item(self, item, owner_name, owner, implemented):
        prefix = owner["prefix"]
        ctor = item.kind == "constructor"
        python_name = owner["python"] if ctor else f"{owner['python']}.{item.name}"
        attr = item.kind == "attribute"
        python_sig = python_name if attr else python_name + item.signature
        ci = CItem(item=item, owner=owner, owner_name=owner_name,
                   python_name=python_name if attr else python_name + "()",
                   python_sig=python_sig, funcs=[], fields=[], form="",
                   implemented=implemented, returns_text=[])
        if owner["style"] == "struct":
            return self.callback_item(ci, item, owner)
        ci.since, ci.gone, self.param_versions = availability(item, self.spec.constants)
        self_ = (owner["self"]["c"], owner["self"]["name"]) if "self" in owner else None
        if ctor:
            self_ = None
        cname = item.c_name or prefix + ("new" if ctor else item.name)
        ci.cname = cname
        impl = "aio__" + cname[len("aio_"):]
        ci.pyclass = owner.get("pyclass", "")
        if attr:
            ci.form = "attribute"
            c, error, _ = self.return_of(item.returns.type)
            getter = CFunc(item=ci, name=cname, impl=impl, ret=c,
                           error=self.error_value(c, error), self_=self_, params=[],
                           role="get", pyname=item.name, spelling=python_name)
            ci.funcs.append(getter)
            ci.returns_text = self.returns_text(item, cname)
            if item.writable:
                value = Param(name="value", kind="positional", default=None,
                              type=item.returns.type, doc=item.returns.doc)
                fields = self.param_fields(item, value, False)
                if len(fields) > 1:
                    self.error(item, "a writable attribute's type cannot have a companion")
                setter = CFunc(item=ci, name=prefix + "set_" + item.name,
                               impl="aio__" + (prefix + "set_" + item.name)[len("aio_"):],
                               ret="int", error="-1", self_=self_, params=fields[:1],
                               role="set", pyname=item.name, spelling=python_name)
                ci.funcs.append(setter)
                ci.returns_text.append(f"{setter.name}() sets it: returns 0, or -1 with the "
                                       "exception set.")
            return ci
        taken = {self_[1]} if self_ else set()
        params = list(item.params) + list(item.c_params)
        if item.c_form:
            form = item.c_form
        else:
            form = "struct" if any(p.default is not None or p.kind in ("keyword", "var_keyword")
                                   for p in item.params) else "direct"
        if item.kind in ("coroutine", "awaitable") and not item.runs_in_task:
            ret, error = "aio_future *", "NULL"
        else:
            c, error, _ = self.return_of(item.result.type if item.runs_in_task
                                         else item.returns.type)
            ret, error = c, self.error_value(c, error)
        func = CFunc(item=ci, name=cname, impl=impl, ret=ret, error=error, self_=self_,
                     params=[], pyname=item.name, spelling=python_name + "()")
        if not (item.kind in ("coroutine", "awaitable") and not item.runs_in_task):
            out = self.out_of(item.result.type if item.runs_in_task else item.returns.type)
            if out:
                func.out = (out["c"], out["name"])
                taken = taken | {out["name"]}
        struct_name = (prefix + "args") if ctor else cname + "_args"
        if form == "struct":
            ci.form = "struct"
            ci.struct = func.struct = struct_name
            func.impl_struct = "aio__" + struct_name[len("aio_"):]
            ci.fields = func.fields = self.fields(item, params, True)
            self.set_versions(func.fields)
        elif form == "split":
            lead = []
            for p in params:
                if p.default is None and p.kind in ("positional", "var_positional") \
                        and not p.c_only:
                    lead.append(p)
                else:
                    break
            rest = params[len(lead):]
            if not lead or not rest:
                self.error(item, "c_form 'split' needs leading required parameters and others")
            ci.form = "split"
            ci.struct = func.struct = struct_name
            func.impl_struct = "aio__" + struct_name[len("aio_"):]
            func.params = self.fields(item, lead, False, taken)
            func.fields = self.fields(item, rest, True)
            self.set_versions(func.fields)
            ci.fields = func.params + func.fields
            self.set_versions(func.params)
        else:
            ci.form = "direct"
            ci.fields = func.params = self.fields(item, params, False, taken,
                                                  direct=bool(item.c_form))
            self.set_versions(func.params)
        ci.funcs.append(func)
        ci.returns_text = self.returns_text(item)
        return ci

    def set_versions(self, fields):
        """Gives the struct fields their parameter's since and gone (a
        direct parameter cannot be left out: the item carries those)."""
        for f in fields:
            since, gone = self.param_versions.get(f.pyname, (0, 0))
            if f.param is not None and f.param.c_only:
                continue
            f.since, f.gone = since, gone
            if (since or gone) and not f.companion:
                f.doc = (f.doc + " " + version_sentence(since, gone)).strip()

    def callback_item(self, ci, item, owner):
        ci.form = "callback"
        ci.cname, _ = self.c_name(item.name)
        ci.struct = owner["struct"]
        fields = []
        for p in item.params:
            for f in self.param_fields(item, p, False):
                # The runtime passes these: no defaults, no explicit values.
                if not f.companion and self.types[p.type]["kind"] == "scalar" \
                        and self.types[p.type]["none"] == "bool":
                    f.ctype = "bool"
                f.default, f.values, f.glue = "", [], "copy"
                fields.append(f)
        ci.fields = fields
        rt = item.returns.type
        if rt == "none":
            ci.ret = "void"
            ci.returns_text = ["Returns nothing."]
        elif rt == "bool":
            ci.ret = "bool"
            ci.returns_text = ["Returns bool." + (" " + sentence(item.returns.doc)
                                                  if item.returns.doc else "")]
        else:
            t = self.types[rt]
            ci.ret = t.get("returns", {}).get("c", t["c"])
            ci.returns_text = [f"Returns {ci.ret}: {t['doc']}." + (
                " " + sentence(item.returns.doc) if item.returns.doc else "")]
        return ci


def build(spec, layout):
    b = Builder(spec, layout)
    implemented = set(spec.implemented)
    owners = []
    for name, table in spec.owners.items():
        items = [b.item(i, name, table, i.id in implemented) for i in spec.owner_items(name)]
        owners.append(COwner(name=name, table=table, items=items))
    names = {}
    for o in owners:
        for i in o.items:
            used = [f.name for f in i.funcs] + [f.struct for f in i.funcs if f.struct]
            if i.form == "callback":
                used = [f"struct {i.struct}.{i.cname}"]
            for name in used:
                if name in names:
                    b.error(i.item, f"the C name {name} is also that of {names[name]}")
                names.setdefault(name, i.item.id)
    if b.errors:
        raise SpecError(b.errors)
    headers = {}
    for o in owners:
        h = headers.setdefault(o.table["header"], CHeader(name=o.table["header"], owners=[],
                                                          files=[]))
        h.owners.append(o)
    for h in headers.values():
        used = {i.item.file for o in h.owners for i in o.items}
        h.files = ["owners.toml", "types.toml"] + [f for f in spec.item_files if f in used]
    items = [i for h in headers.values() for o in h.owners for i in o.items]
    funcs = [f for i in items for f in i.funcs]
    # What the glue of the functions that check their arguments uses.
    checked = [fld for f in funcs if f.checks_arguments for fld in (f.fields or f.params)]
    used = {fld.impl_ctype for fld in checked
            if fld.glue in ("required", "default", "or_none", "default_or_none")}
    helpers = [(c, SCALAR_HELPERS[c]) for c in SCALAR_HELPERS if c in used]
    includes = {fld.include for fld in checked if fld.include}
    return CApi(spec=spec, owners=owners, headers=list(headers.values()), items=items,
                funcs=funcs, scalar_helpers=helpers, includes=sorted(includes),
                state_checks=layout.get("state_checks", {}),
                version_gates=layout.get("version_gates", {}))


def none_in_text(p):
    """What a None does at the targets of spec none_in, for the field's
    doc: "; 3.6-3.10: AssertionError", "; 3.6-3.10: None is accepted"."""
    parts = []
    for e in p.none_in:
        span = f"3.{e.first}" if e.first == e.last else f"3.{e.first}-3.{e.last}"
        if e.accepted:
            parts.append(f"{span}: None is accepted")
        elif p.none_raises and e.raises[0] == p.none_raises[0]:
            parts.append(f"{span}: {e.raises[0]} with another message")
        else:
            parts.append(f"{span}: {e.raises[0]}")
    return "".join(f"; {t}" for t in parts)
