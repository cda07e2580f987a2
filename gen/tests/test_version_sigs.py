"""Tests of gen/version_sigs.py (an item's signature in each Python version),
the comparison of gen/check_versions.py, and the "What changed between
versions" table.

    python3 -m unittest discover -s gen/tests -t . -q
"""

import io
import os
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

import check_versions  # noqa: E402
import generate  # noqa: E402
import version_sigs as vs  # noqa: E402
from spec_model import History, Item, Spec, parse_signature  # noqa: E402

CONSTANTS = {"socket.AF_UNSPEC": "AF_UNSPEC", "ALL_COMPLETED": "AIO_ALL_COMPLETED"}


def item(signature, history=(), python_signature="", signature_in=None, name="f",
         owner="loop", kind="method"):
    params, reason = parse_signature(signature, CONSTANTS)
    assert reason is None, reason
    return Item(file="x.toml", id=f"{owner}.{name}", name=name, owner=owner, kind=kind,
                signature=signature, params=params, pages=[], summary="",
                history=[History(version=v, change=c, note="n", pages=[],
                                 params=list(p), effect=e) for v, c, p, e in history],
                python_signature=python_signature, signature_in=signature_in or {})


def names(item_, version):
    params, problems = vs.signature_in(item_, vs.version_key(version), CONSTANTS)
    if problems:
        return problems
    return None if params is None else [p.name for p in params]


class ExistenceTest(unittest.TestCase):
    def test_appeared_and_gone(self):
        it = item("()", [("3.7", "added", (), "appeared"), ("3.12", "removed", (), "gone")])
        self.assertIsNone(names(it, "3.6.15"))
        self.assertEqual(names(it, "3.7.0"), [])
        self.assertEqual(names(it, "3.11.7"), [])
        self.assertIsNone(names(it, "3.12.1"))

    def test_a_note_changes_nothing(self):
        it = item("(a)", [("3.9", "removed", (), "none")])
        self.assertEqual(names(it, "3.10.1"), ["a"])
        self.assertEqual(names(it, "3.6.1"), ["a"])

    def test_patch_versions(self):
        # 3.8.1's change holds for the newest 3.8, not for 3.8.0.
        it = item("(a, b=None)", [("3.8.1", "added", ("b",), "params_added")])
        self.assertEqual(names(it, "3.8.18"), ["a", "b"])
        self.assertEqual(names(it, "3.8.0"), ["a"])


class ParamsTest(unittest.TestCase):
    def test_added_before_the_target_are_dropped_below(self):
        it = item("(coro, *, name=None, context=None)",
                  [("3.8", "changed", ("name",), "params_added"),
                   ("3.11", "added", ("context",), "params_added")])
        self.assertEqual(names(it, "3.7.16"), ["coro"])
        self.assertEqual(names(it, "3.10.13"), ["coro", "name"])
        self.assertEqual(names(it, "3.11.7"), ["coro", "name", "context"])
        self.assertEqual(names(it, "3.13.0"), ["coro", "name", "context"])

    def test_removed_needs_an_anchor(self):
        it = item("(delay)", [("3.10", "removed", ("loop",), "params_removed")])
        problems = names(it, "3.9.18")
        self.assertEqual(len(problems), 1)
        self.assertIn("'loop' was removed in 3.10", problems[0])
        self.assertIn('signature_in["3.9"]', problems[0])

    def test_removed_with_an_anchor(self):
        it = item("(delay)", [("3.7", "added", ("delay",), "params_added"),
                              ("3.10", "removed", ("loop",), "params_removed")],
                  signature_in={"3.9": "(delay, *, loop=None)"})
        self.assertEqual(names(it, "3.9.18"), ["delay", "loop"])
        # Below the anchor, its history is undone from it.
        self.assertEqual(names(it, "3.6.15"), ["loop"])
        self.assertEqual(names(it, "3.10.1"), ["delay"])

    def test_added_after_the_target_needs_an_anchor(self):
        it = item("(a)", [("3.12", "added", ("b",), "params_added")],
                  signature_in={})
        problems = names(it, "3.12.1")
        self.assertIn("'b' was added in 3.12", problems[0])
        it.signature_in = {"3.12": "(a, b=False)"}
        self.assertEqual(names(it, "3.12.1"), ["a", "b"])
        self.assertEqual(names(it, "3.13.0"), ["a", "b"])
        self.assertEqual(names(it, "3.11.7"), ["a"])

    def test_removed_after_the_target(self):
        it = item("(a, b=None)", [("3.12", "removed", ("b",), "params_removed")])
        self.assertEqual(names(it, "3.12.1"), ["a"])
        self.assertEqual(names(it, "3.11.7"), ["a", "b"])

    def test_python_signature_renames(self):
        it = item("(signum, callback, *args)", python_signature="(sig, callback, *args)")
        self.assertEqual(names(it, "3.6.15"), ["sig", "callback", "args"])

    def test_history_names_an_anchor_lacks(self):
        it = item("(a)", [("3.8", "added", ("b",), "params_added")])
        problems = names(it, "3.7.1")
        self.assertIn("'b' was added in 3.8, but the signature of 3.11 lacks it", problems[0])

    def test_kwargs_carry_named_parameters(self):
        it = item("(host=None, *, ssl_handshake_timeout=None)",
                  [("3.7", "added", ("ssl_handshake_timeout",), "params_added")],
                  python_signature="(host=None, *, limit=65536, **kwds)")
        self.assertEqual(names(it, "3.6.15"), ["host", "limit", "kwds"])


class CompareTest(unittest.TestCase):
    def params(self, sig):
        return parse_signature(sig, CONSTANTS, lenient=True)[0]

    @staticmethod
    def got(*params):
        out = []
        for name, kind, default in params:
            if default is None:
                out.append([name, kind, None])
            else:
                literal, value = default
                out.append([name, kind, {"repr": repr(value) if literal else "<object>",
                                         "literal": literal,
                                         "value": value if literal else None}])
        return out

    def test_same(self):
        got = self.got(("a", "positional", None), ("b", "keyword", (True, 0)))
        self.assertEqual(vs.compare(self.params("(a, *, b=0)"), got), "")

    def test_default_differs(self):
        got = self.got(("a", "keyword", (True, False)))
        self.assertIn("CPython (*, a=False)", vs.compare(self.params("(*, a=None)"), got))

    def test_bool_is_not_int(self):
        got = self.got(("a", "positional", (True, True)))
        self.assertNotEqual(vs.compare(self.params("(a=1)"), got), "")

    def test_constant(self):
        got = self.got(("family", "keyword", (False, None)))
        got[0][2]["value"] = 0   # socket.AF_UNSPEC, an IntEnum
        self.assertEqual(vs.compare(self.params("(*, family=socket.AF_UNSPEC)"), got), "")
        got = self.got(("w", "keyword", (True, "ALL_COMPLETED")))
        self.assertEqual(vs.compare(self.params("(*, w=ALL_COMPLETED)"), got), "")

    def test_sentinel(self):
        got = self.got(("loop", "keyword", (False, None)))
        self.assertEqual(vs.compare(self.params("(*, loop=mixins._marker)"), got), "")
        self.assertNotEqual(vs.compare(self.params("(*, loop=None)"), got), "")

    def test_kind_and_order(self):
        got = self.got(("a", "positional", None), ("b", "positional", None))
        self.assertNotEqual(vs.compare(self.params("(b, a)"), got), "")
        self.assertNotEqual(vs.compare(self.params("(a, *, b)"), got), "")
        self.assertNotEqual(vs.compare(self.params("(a)"), got), "")


class CheckVersionTest(unittest.TestCase):
    """check_versions.check_version on an interpreter's answer made up here."""

    def spec(self, *items):
        owners = {"loop": {"python": "loop"}, "tasks": {"python": "asyncio"}}
        return Spec(dir="", files=[], item_files=[], owners=owners, types={},
                    constants=CONSTANTS, items=list(items), implemented=[])

    def test_names_the_missing_record(self):
        it = item("(a)")
        got = {"version": "3.12.1", "public": {"loop": ["f", "g", "run_in_executor"]},
               "items": {"loop.f": {"exists": True, "params": [
                   ["a", "positional", None],
                   ["b", "keyword", {"repr": "False", "literal": True, "value": False}]]}}}
        lines = check_versions.check_version(self.spec(it), got)
        self.assertEqual(len(lines), 3, lines)
        self.assertIn("3.12: loop.f: spec (a), CPython (a, *, b=False)", lines[0])
        self.assertIn("3.12: loop.g: public in CPython, not in the spec", lines[1])
        self.assertIn("loop.run_in_executor", lines[2])

    def test_existence_both_ways(self):
        new = item("()", [("3.12", "added", (), "appeared")], name="new")
        old = item("()", name="old")
        got = {"version": "3.11.7", "public": {},
               "items": {"loop.new": {"exists": True, "params": []},
                         "loop.old": {"exists": False}}}
        lines = check_versions.check_version(self.spec(new, old), got)
        self.assertEqual(len(lines), 2, lines)
        self.assertIn("loop.new: CPython has it; the spec says it does not exist", lines[0])
        self.assertIn("loop.old: CPython has no such item", lines[1])

    def test_ignored_and_skipped(self):
        it = item("(a)")
        got = {"version": "3.13.0", "public": {"stream_reader": ["set_transport"]},
               "items": {"loop.f": {"exists": None, "why": "class absent"}}}
        self.assertEqual(check_versions.check_version(self.spec(it), got), [])

    def test_newest_pyenv_patch(self):
        with tempfile.TemporaryDirectory() as tmp:
            for v in ("3.8.1", "3.8.18", "3.8.9", "3.8.18-dev"):
                os.makedirs(os.path.join(tmp, v, "bin"))
                exe = os.path.join(tmp, v, "bin", "python3")
                with open(exe, "w") as f:
                    f.write("#!/bin/sh\n")
                os.chmod(exe, 0o755)
            old, check_versions.PYENV = check_versions.PYENV, tmp
            try:
                found = check_versions.find_interpreters({9: "/my/python3.9"})
            finally:
                check_versions.PYENV = old
        self.assertEqual(found[8], os.path.join(tmp, "3.8.18", "bin", "python3"))
        self.assertEqual(found[9], "/my/python3.9")

    def test_absent_versions_are_named(self):
        old = check_versions.find_interpreters
        check_versions.find_interpreters = lambda explicit: {}
        out = io.StringIO()
        try:
            stdout, sys.stdout = sys.stdout, out
            status = check_versions.main([])
        finally:
            sys.stdout = stdout
            check_versions.find_interpreters = old
        self.assertEqual(status, 0)
        self.assertIn("skipped (no interpreter): 3.6, 3.7, 3.8, 3.9, 3.10, 3.11, 3.12, 3.13",
                      out.getvalue())

    def test_used_ignores_are_gathered(self):
        used = set()
        got = {"version": "3.13.0", "public": {"stream_reader": ["set_transport"]}, "items": {}}
        check_versions.check_version(self.spec(), got, used)
        self.assertEqual(used, {"stream_reader.set_transport"})


class IntrospectScriptTest(unittest.TestCase):
    def test_parses_as_python_3_6(self):
        import ast
        path = os.path.join(os.path.dirname(HERE), "sig_introspect.py")
        with open(path, encoding="utf-8") as f:
            source = f.read()
        ast.parse(source, feature_version=(3, 6))
        self.assertNotIn("f\"", source)
        self.assertNotIn(":=", source)

    def test_runs_here(self):
        import json
        import subprocess
        request = {"items": [["loop.call_soon", "loop", "call_soon", "method"],
                             ["tasks.sleep", "tasks", "sleep", "coroutine"],
                             ["loop.nothing", "loop", "nothing", "method"]],
                   "public": ["loop"]}
        out = subprocess.run([sys.executable, os.path.join(os.path.dirname(HERE),
                                                           "sig_introspect.py")],
                             input=json.dumps(request), capture_output=True, text=True,
                             check=True)
        got = json.loads(out.stdout)
        self.assertEqual(got["items"]["loop.call_soon"]["params"][0],
                         ["callback", "positional", None])
        self.assertEqual(got["items"]["tasks.sleep"]["params"][1][0], "result")
        self.assertEqual(got["items"]["loop.nothing"], {"exists": False})
        self.assertIn("create_server", got["public"]["loop"])


class ChangesTableTest(unittest.TestCase):
    def test_rows(self):
        late = item("(a)", [("3.4.2", "added", (), "appeared"),
                            ("3.12", "added", ("b",), "params_added")], name="late")
        early = item("()", [("3.7", "changed", (), "none")], name="sleep", owner="tasks",
                     kind="coroutine")
        spec = CheckVersionTest.spec(None, late, early)
        self.assertEqual(vs.version_changes(spec), [
            ("3.7", "asyncio.sleep()", "changed", "n"),
            ("3.12", "loop.late()", "added (b)", "n"),
        ])

    def test_rendered(self):
        fixture = os.path.join(HERE, "fixtures")
        with tempfile.TemporaryDirectory() as tmp:
            generate.run(os.path.join(fixture, "spec"), tmp, stdout=io.StringIO(),
                         include_dir=os.path.join(fixture, "include"))
            with open(os.path.join(tmp, "docs", "api.md"), encoding="utf-8") as f:
                text = f.read()
        table = text.split("## What changed between versions", 1)[1]
        rows = [line.split(" | ") for line in table.splitlines() if line.startswith("| 3.")]
        self.assertTrue(rows)
        versions = [vs.version_key(r[0][2:]) for r in rows]
        self.assertEqual(versions, sorted(versions))
        self.assertTrue(all(v >= (3, 6, 0) for v in versions))
        self.assertIn("- [What changed between versions](#what-changed-between-versions)", text)


if __name__ == "__main__":
    unittest.main()
