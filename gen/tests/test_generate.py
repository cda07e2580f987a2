"""Tests of gen/: golden output, validation messages, and that the output compiles.

Run from the repository root:

    /usr/bin/python3 -m unittest discover -s gen/tests -v

The golden files are what gen/generate.py renders from fixtures/spec (with
fixtures/README.in.md as the README). After an intended change of the
generator, refresh them and read the diff:

    UPDATE_GOLDEN=1 /usr/bin/python3 -m unittest discover -s gen/tests
    git diff gen/tests/fixtures/golden
"""

import io
import os
import re
import shutil
import subprocess
import sys
import tempfile
import textwrap
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
GEN = os.path.dirname(HERE)
ROOT = os.path.dirname(GEN)
sys.path.insert(0, GEN)

import generate  # noqa: E402
import headers  # noqa: E402
from spec_model import SpecError  # noqa: E402

FIXTURES = os.path.join(HERE, "fixtures")
SPEC = os.path.join(FIXTURES, "spec")
GOLDEN = os.path.join(FIXTURES, "golden")
README_IN = os.path.join(FIXTURES, "README.in.md")
INCLUDE = os.path.join(ROOT, "include")
FIXTURE_INCLUDE = os.path.join(FIXTURES, "include")


def render_fixture(out_dir):
    """Renders the fixture spec into out_dir, README.md included."""
    readme = os.path.join(out_dir, "README.md")
    os.makedirs(out_dir, exist_ok=True)
    shutil.copyfile(README_IN, readme)
    status = generate.run(SPEC, out_dir, readme=readme, stdout=io.StringIO(),
                          include_dir=FIXTURE_INCLUDE)
    assert status == 0


def tree(root):
    out = {}
    for dirpath, _, names in os.walk(root):
        for name in names:
            path = os.path.join(dirpath, name)
            with open(path, encoding="utf-8") as f:
                out[os.path.relpath(path, root)] = f.read()
    return out


def setUpModule():
    if os.environ.get("UPDATE_GOLDEN"):
        shutil.rmtree(GOLDEN, ignore_errors=True)
        render_fixture(GOLDEN)


class GoldenTest(unittest.TestCase):
    """The fixture spec renders to fixtures/golden, byte for byte."""

    def test_golden(self):
        with tempfile.TemporaryDirectory() as tmp:
            render_fixture(tmp)
            got = tree(tmp)
            want = tree(GOLDEN)
        self.assertEqual(sorted(got), sorted(want), "the set of generated files differs")
        for name in sorted(want):
            with self.subTest(file=name):
                self.assertEqual(got[name], want[name],
                                 f"{name} differs from the golden file; if intended, "
                                 "refresh with UPDATE_GOLDEN=1")

    def test_output_is_tidy(self):
        for name, text in tree(GOLDEN).items():
            with self.subTest(file=name):
                self.assertTrue(text.endswith("\n") and not text.endswith("\n\n"))
                for n, line in enumerate(text.split("\n"), 1):
                    self.assertEqual(line, line.rstrip(), f"trailing whitespace, line {n}")
                    self.assertNotIn("\t", line, f"tab, line {n}")
                if name.endswith((".c", ".h")):
                    for n, line in enumerate(text.split("\n"), 1):
                        self.assertLessEqual(len(line), 100, f"line {n} is long")

    def test_check_passes_on_golden(self):
        out = io.StringIO()
        status = generate.run(SPEC, GOLDEN, readme=os.path.join(GOLDEN, "README.md"),
                              check=True, stdout=out, include_dir=FIXTURE_INCLUDE)
        self.assertEqual(status, 0, out.getvalue())

    def test_check_names_the_files_that_differ(self):
        with tempfile.TemporaryDirectory() as tmp:
            shutil.copytree(GOLDEN, tmp, dirs_exist_ok=True)
            with open(os.path.join(tmp, "src", "glue.c"), "a", encoding="utf-8") as f:
                f.write("/* edited */\n")
            os.remove(os.path.join(tmp, "docs", "api.md"))
            out = io.StringIO()
            status = generate.run(SPEC, tmp, check=True, stdout=out,
                                  include_dir=FIXTURE_INCLUDE)
            self.assertEqual(status, 1)
            self.assertIn(f"differs: {os.path.join(tmp, 'docs', 'api.md')}\n", out.getvalue())
            self.assertIn(f"differs: {os.path.join(tmp, 'src', 'glue.c')}\n", out.getvalue())
            self.assertNotIn("loop.h", out.getvalue())
            # --check wrote nothing.
            self.assertFalse(os.path.exists(os.path.join(tmp, "docs", "api.md")))

    def test_check_covers_the_readme_region(self):
        with tempfile.TemporaryDirectory() as tmp:
            shutil.copytree(GOLDEN, tmp, dirs_exist_ok=True)
            readme = os.path.join(tmp, "README.md")
            with open(readme, encoding="utf-8") as f:
                text = f.read()
            with open(readme, "w", encoding="utf-8") as f:
                f.write(text.replace("| works |", "| not yet |", 1))
            out = io.StringIO()
            self.assertEqual(generate.run(SPEC, tmp, readme=readme, check=True, stdout=out,
                                          include_dir=FIXTURE_INCLUDE), 1)
            self.assertEqual(out.getvalue().splitlines()[0], f"differs: {readme}")

    def test_readme_without_markers_is_an_error(self):
        with tempfile.TemporaryDirectory() as tmp:
            readme = os.path.join(tmp, "README.md")
            with open(readme, "w", encoding="utf-8") as f:
                f.write("# casyncio\n")
            with self.assertRaises(SpecError) as cm:
                generate.run(SPEC, os.path.join(tmp, "out"), readme=readme,
                             stdout=io.StringIO())
            self.assertEqual(cm.exception.errors, [
                f"{readme}: (file): the lines '<!-- features:begin -->' and "
                "'<!-- features:end -->' are missing"])
            self.assertFalse(os.path.exists(os.path.join(tmp, "out")))

    def test_readme_untouched_without_option(self):
        with tempfile.TemporaryDirectory() as tmp:
            generate.run(SPEC, tmp, stdout=io.StringIO(), include_dir=FIXTURE_INCLUDE)
            self.assertFalse(os.path.exists(os.path.join(tmp, "README.md")))

    def test_deterministic(self):
        with tempfile.TemporaryDirectory() as a, tempfile.TemporaryDirectory() as b:
            render_fixture(a)
            render_fixture(b)
            self.assertEqual(tree(a), tree(b))


# --------------------------------------------------------------------------
# Validation

OWNERS = """\
[owners.asyncio]
title = "Module functions"
python = "asyncio"
prefix = "aio_"
style = "functions"
header = "module"

[owners.loop]
title = "Event loop"
python = "loop"
pyclass = "BaseEventLoop"
prefix = "aio_loop_"
self = { c = "aio_loop *", name = "loop" }
style = "functions"
header = "loop"
"""

TYPES = """\
[types.none]
kind = "scalar"
c = "void"
none = "never"
returns = { c = "int", error = "-1", doc = "0, or -1 with the exception set" }
doc = "None"

[types.float]
kind = "scalar"
c = "double"
none = "zero"
returns = { c = "double", error = "-1.0", doc = "the value, or -1.0" }
doc = "a float"

[types.callback]
kind = "callable"
c = "aio_callback"
none = "null"
doc = "a callback"

[types.callback_arg]
kind = "variadic"
c = "void *"
none = "null"
doc = "*args"

[types.context]
kind = "pointer"
c = "aio_context *"
none = "null"
doc = "a context"

[types.timer_handle]
kind = "pointer"
c = "aio_timer_handle *"
none = "null"
returns = { c = "aio_timer_handle *", error = "NULL", doc = "the handle" }
doc = "a TimerHandle"

[constants]
"socket.AF_UNSPEC" = "AF_UNSPEC"
"""

CALL_LATER = """\
[[item]]
name = "call_later"
owner = "loop"
kind = "method"
signature = "(delay, callback, *args, context=None)"
pages = ["3.6", "3.8", "3.9+", "index"]
summary = "Schedule callback(*args) to run after delay seconds."
returns = { type = "timer_handle", ownership = "borrowed" }

[item.params]
delay = { type = "float" }
callback = { type = "callback" }
args = { type = "callback_arg" }
context = { type = "context" }

[[item.history]]
version = "3.7"
change = "changed"
params = ["context"]
note = "Gained the context parameter."
pages = ["3.8", "3.9+"]
"""


class ValidationTest(unittest.TestCase):
    """A bad spec is refused with FILE: ITEM: REASON, naming exactly what is wrong."""

    def errors(self, files=None, **replace):
        """Writes a tiny spec (with call_later in loop-scheduling.toml, after
        applying replace {old: new}, and any other files), and returns the
        errors it is refused with."""
        item = CALL_LATER
        for old, new in replace.get("edits", []):
            self.assertIn(old, item)
            item = item.replace(old, new)
        spec = {"owners.toml": OWNERS, "types.toml": TYPES,
                "status.toml": "implemented = []\n", "loop-scheduling.toml": item}
        spec.update(files or {})
        with tempfile.TemporaryDirectory() as tmp:
            for name, text in spec.items():
                if text is not None:
                    with open(os.path.join(tmp, name), "w", encoding="utf-8") as f:
                        f.write(text)
            try:
                generate.run(tmp, os.path.join(tmp, "out"), stdout=io.StringIO())
            except SpecError as e:
                self.assertFalse(os.path.exists(os.path.join(tmp, "out")))
                return e.errors
        return []

    def assertRefused(self, expected, **kw):
        self.assertEqual(self.errors(**kw), [expected])

    def test_the_tiny_spec_is_good(self):
        self.assertEqual(self.errors(), [])

    def test_unknown_key(self):
        self.assertRefused("loop-scheduling.toml: loop.call_later: unknown key 'colour'",
                           edits=[('kind = "method"\n', 'kind = "method"\ncolour = "red"\n')])

    def test_unknown_key_in_a_table(self):
        self.assertRefused(
            "loop-scheduling.toml: loop.call_later: unknown key 'colour' in params.delay",
            edits=[('delay = { type = "float" }', 'delay = { type = "float", colour = 1 }')])

    def test_missing_required_key(self):
        self.assertRefused("loop-scheduling.toml: loop.call_later: missing required key "
                           "'summary'",
                           edits=[('summary = "Schedule callback(*args) to run after delay '
                                   'seconds."\n', '')])

    def test_missing_type(self):
        self.assertRefused(
            "loop-scheduling.toml: loop.call_later: missing required key 'type' in params.delay",
            edits=[('delay = { type = "float" }', 'delay = { doc = "Seconds." }')])

    def test_param_not_in_signature(self):
        self.assertRefused(
            "loop-scheduling.toml: loop.call_later: parameter 'when' in params is not in the "
            "signature '(delay, callback, *args, context=None)'",
            edits=[('context = { type = "context" }',
                    'context = { type = "context" }\nwhen = { type = "float" }')])

    def test_signature_param_without_entry(self):
        self.assertRefused(
            "loop-scheduling.toml: loop.call_later: parameter 'context' of the signature has "
            "no entry in params",
            edits=[('context = { type = "context" }\n', '')])

    def test_bad_default(self):
        self.assertRefused(
            "loop-scheduling.toml: loop.call_later: parameter 'context': default '1.2.3' is "
            "not a valid Python expression",
            edits=[("context=None)", "context=1.2.3)")])

    def test_default_not_a_constant(self):
        self.assertRefused(
            "loop-scheduling.toml: loop.call_later: parameter 'context': default "
            "'socket.AF_INET' is not a constant of types.toml [constants]",
            edits=[("context=None)", "context=socket.AF_INET)")])

    def test_default_not_a_literal(self):
        self.assertRefused(
            "loop-scheduling.toml: loop.call_later: parameter 'context': default '[]' is not "
            "a literal or a constant of types.toml [constants]",
            edits=[("context=None)", "context=[])")])

    def test_signature_does_not_parse(self):
        self.assertRefused(
            "loop-scheduling.toml: loop.call_later: signature '(delay, callback, *args, "
            "context=None' is not a parenthesised parameter list",
            edits=[("context=None)", "context=None")])

    def test_bad_version(self):
        self.assertRefused(
            "loop-scheduling.toml: loop.call_later: history[0]: version '3.x' is not N.N "
            "or N.N.N",
            edits=[('version = "3.7"', 'version = "3.x"')])

    def test_history_param_not_in_signature(self):
        self.assertRefused(
            "loop-scheduling.toml: loop.call_later: history[0]: parameter 'loop' is not in "
            "the signature '(delay, callback, *args, context=None)' (nor in python_signature "
            "or signature_in)",
            edits=[('params = ["context"]', 'params = ["loop"]')])

    def test_history_param_in_signature_in(self):
        # A parameter of another version's signature may be named.
        self.assertEqual(self.errors(edits=[
            ('params = ["context"]', 'params = ["loop"]'),
            ('[item.params]', '[item.signature_in]\n"3.9" = "(delay, callback, *args, '
                              'context=None, loop=None)"\n\n[item.params]')]), [])

    def test_history_unknown_effect(self):
        self.assertRefused(
            "loop-scheduling.toml: loop.call_later: history[0]: unknown effect 'grew' "
            "(appeared, gone, params_added, params_removed, none)",
            edits=[('params = ["context"]', 'params = ["context"]\neffect = "grew"')])

    def test_history_effect_needs_params(self):
        self.assertRefused(
            "loop-scheduling.toml: loop.call_later: history[0]: effect 'params_added' "
            "needs params",
            edits=[('params = ["context"]', 'effect = "params_added"')])

    def test_history_appeared_takes_no_params(self):
        self.assertRefused(
            "loop-scheduling.toml: loop.call_later: history[0]: effect 'appeared' is about "
            "the item: no params",
            edits=[('params = ["context"]', 'params = ["context"]\neffect = "appeared"')])

    def test_signature_in_version(self):
        self.assertRefused(
            "loop-scheduling.toml: loop.call_later: signature_in: version '3.9.1' is not 3.N",
            edits=[('[item.params]', '[item.signature_in]\n"3.9.1" = "(delay)"\n\n'
                                     '[item.params]')])

    def test_python_signature_must_parse(self):
        self.assertRefused(
            "loop-scheduling.toml: loop.call_later: python_signature: signature 'delay' is "
            "not a parenthesised parameter list",
            edits=[('summary =', 'python_signature = "delay"\nsummary =')])

    def test_history_param_removed(self):
        self.assertEqual(self.errors(edits=[('params = ["context"]', 'params = ["loop"]'),
                                            ('change = "changed"', 'change = "removed"')]),
                         [])

    def test_unknown_change(self):
        self.assertRefused(
            "loop-scheduling.toml: loop.call_later: history[0]: unknown change 'modified'",
            edits=[('change = "changed"', 'change = "modified"')])

    def test_unknown_type(self):
        self.assertRefused(
            "loop-scheduling.toml: loop.call_later: params.delay: unknown type 'flaot'",
            edits=[('delay = { type = "float" }', 'delay = { type = "flaot" }')])

    def test_unknown_owner(self):
        self.assertRefused("loop-scheduling.toml: lop.call_later: unknown owner 'lop'",
                           edits=[('owner = "loop"', 'owner = "lop"')])

    def test_unknown_kind(self):
        self.assertRefused("loop-scheduling.toml: loop.call_later: unknown kind 'methd'",
                           edits=[('kind = "method"', 'kind = "methd"')])

    def test_unknown_page(self):
        self.assertRefused("loop-scheduling.toml: loop.call_later: unknown page '3.7' in "
                           "pages",
                           edits=[('pages = ["3.6", "3.8"', 'pages = ["3.7", "3.8"')])

    def test_duplicate_item(self):
        self.assertRefused(
            "loop-scheduling.toml: loop.call_later: duplicate item (first in "
            "loop-running.toml)",
            files={"loop-running.toml": CALL_LATER})

    def test_duplicate_item_in_one_file(self):
        self.assertRefused(
            "loop-scheduling.toml: loop.call_later: duplicate item (first in "
            "loop-scheduling.toml)",
            edits=[(CALL_LATER, CALL_LATER + "\n" + CALL_LATER)])

    def test_unknown_status_id(self):
        self.assertRefused("status.toml: loop.call_soon: unknown item in implemented",
                           files={"status.toml": 'implemented = ["loop.call_soon"]\n'})

    def test_unknown_file(self):
        self.assertRefused(
            "loop-misc.toml: (file): not a spec file (gen/layout.toml lists the item files)",
            files={"loop-misc.toml": ""})

    def test_unknown_exception(self):
        self.assertRefused(
            "loop-scheduling.toml: loop.call_later: raises[0]: unknown exception type "
            "'LoopError' (not in include/casyncio/exceptions.h)",
            edits=[(CALL_LATER, CALL_LATER + '\n[[item.raises]]\ntype = "LoopError"\n'
                                             'when = "always"\n')])

    def test_default_does_not_fit_type(self):
        self.assertRefused(
            "loop-scheduling.toml: loop.call_later: params.context: default '1' does not fit "
            "type 'context'",
            edits=[("context=None)", "context=1)")])

    def test_bytes_default_only_for_bytes(self):
        # A bytes literal (readuntil's b'\\n') fits a bytes parameter, nothing else.
        self.assertRefused(
            "loop-scheduling.toml: loop.call_later: params.context: default "
            "'b'x'' does not fit type 'context'",
            edits=[("context=None)", "context=b'x')")])

    def test_c_name_collision(self):
        debug = """\
[[item]]
name = "foo"
owner = "loop"
kind = "attribute"
signature = "()"
pages = ["3.9+"]
writable = true
summary = "An attribute."
returns = "float"

[[item]]
name = "set_foo"
owner = "loop"
kind = "method"
signature = "(value)"
pages = ["3.9+"]
summary = "A method whose C name is the attribute's setter."
returns = "none"
params = { value = { type = "float" } }
"""
        self.assertRefused("loop-debug.toml: loop.set_foo: the C name aio_loop_set_foo is "
                           "also that of loop.foo", files={"loop-debug.toml": debug})

    RAISE = '\n[[item.raises]]\ntype = "TypeError"\nmessage = "delay must not be None"\n' \
            'when = "delay is None"\n'

    def test_hand_written_not_a_header(self):
        self.assertRefused(
            "loop-scheduling.toml: loop.call_later: hand_written 'tasks.h' is not a header "
            "casyncio/NAME.h",
            edits=[('kind = "method"\n', 'kind = "method"\nhand_written = "tasks.h"\n')])

    def test_hand_written_function_not_declared(self):
        self.assertRefused(
            "loop-scheduling.toml: loop.call_later: aio_loop_call_later is not declared in "
            "include/casyncio/tasks.h (hand_written)",
            edits=[('kind = "method"\n',
                    'kind = "method"\nhand_written = "casyncio/tasks.h"\n')])

    def test_hand_written_item_is_documented_not_generated(self):
        item = CALL_LATER.replace('kind = "method"\n', 'kind = "method"\nhand_written = '
                                  '"casyncio/tasks.h"\nc_name = "aio_sleep"\n')
        spec = {"owners.toml": OWNERS, "types.toml": TYPES,
                "status.toml": 'implemented = ["loop.call_later"]\n',
                "loop-scheduling.toml": item}
        with tempfile.TemporaryDirectory() as tmp:
            for name, text in spec.items():
                with open(os.path.join(tmp, name), "w", encoding="utf-8") as f:
                    f.write(text)
            out = os.path.join(tmp, "out")
            self.assertEqual(generate.run(tmp, out, stdout=io.StringIO()), 0)

            def text(rel):
                with open(os.path.join(out, rel), encoding="utf-8") as f:
                    return f.read()
            for rel in ("src/glue.c", "src/impl.h", "src/stubs.c", "include/casyncio/api.h",
                        "tests/args_table.py"):
                self.assertNotIn("aio_sleep", text(rel), rel)
                self.assertNotIn("call_later", text(rel), rel)
            # an owner with only hand-written items has no generated header
            self.assertFalse(os.path.exists(os.path.join(out, "include/casyncio/loop.h")))
            api = text("docs/api.md")
            self.assertIn("### `loop.call_later(delay, callback, *args, context=None)`", api)
            self.assertIn("declared by hand in [`casyncio/tasks.h`]", api)
            self.assertIn("`aio_sleep()`", api)
            self.assertIn("| `loop.call_later()` | method | `aio_sleep` | works |",
                          text("docs/features.md"))

    def test_python_only_must_be_a_bool(self):
        self.assertRefused(
            "loop-scheduling.toml: loop.call_later: key 'raises[0].python_only' must be true "
            "or false",
            edits=[(CALL_LATER, CALL_LATER + self.RAISE + 'python_only = "yes"\n')])

    def test_python_only_error_a_c_caller_gets(self):
        self.assertRefused(
            "loop-scheduling.toml: loop.call_later: raises[0]: python_only, but a C caller "
            "gets it too: it is params.delay's none_raises",
            edits=[(CALL_LATER, CALL_LATER + self.RAISE + "python_only = true\n"),
                   ('delay = { type = "float" }',
                    'delay = { type = "float", none_raises = ["TypeError", '
                    '"delay must not be None"] }')])

    def test_python_only_is_fine(self):
        self.assertEqual(self.errors(edits=[(CALL_LATER, CALL_LATER + self.RAISE +
                                             "python_only = true\n")]), [])

    def test_none_check_unknown(self):
        self.assertRefused(
            'loop-scheduling.toml: loop.call_later: params.callback: none_check must be "glue" '
            'or "runtime"',
            edits=[('callback = { type = "callback" }',
                    'callback = { type = "callback", none_raises = ["TypeError", "x"], '
                    'none_check = "later" }')])

    def test_none_check_without_none_raises(self):
        self.assertRefused(
            "loop-scheduling.toml: loop.call_later: params.callback: none_check without "
            "none_raises",
            edits=[('callback = { type = "callback" }',
                    'callback = { type = "callback", none_check = "runtime" }')])

    def test_none_check_runtime_on_a_number(self):
        self.assertRefused(
            'loop-scheduling.toml: loop.call_later: params.delay: none_check = "runtime" needs '
            "a pointer or callable type (NULL is passed on), not 'float'; a scalar's None "
            "check follows a state_check instead",
            edits=[('delay = { type = "float" }',
                    'delay = { type = "float", none_raises = ["TypeError", "x"], '
                    'none_check = "runtime" }')])

    def test_none_raises_on_a_parameter_taking_none(self):
        self.assertRefused(
            "loop-scheduling.toml: loop.call_later: params.context: none_raises on a parameter "
            "that takes None (it is not required, and its default is None or its type accepts "
            "None)",
            edits=[('context = { type = "context" }',
                    'context = { type = "context", none_raises = ["TypeError", "x"] }')])

    NONE_IN_DELAY = ('delay = { type = "float" }',
                     'delay = { type = "float", none_raises = ["TypeError", "x"], none_in = ')

    def none_in(self, table, param="delay"):
        if param == "delay":
            return [(self.NONE_IN_DELAY[0], self.NONE_IN_DELAY[1] + table + " }")]
        return [('callback = { type = "callback" }',
                 'callback = { type = "callback", none_raises = ["TypeError", "x"], '
                 'none_in = ' + table + " }")]

    def test_none_in_is_fine(self):
        self.assertEqual(self.errors(edits=self.none_in(
            '{ "3.6-3.9" = ["TypeError", "y"], "3.10" = { raises = ["AssertionError", ""], '
            'after = "loop_closed" }, "3.12-3.13" = ["ValueError", "z"] }')), [])
        self.assertEqual(self.errors(edits=self.none_in('{ "3.6-3.10" = "accepted" }',
                                                        "callback")), [])

    def test_none_in_needs_none_raises(self):
        self.assertRefused(
            "loop-scheduling.toml: loop.call_later: params.delay.none_in needs none_raises "
            "(the target's None)",
            edits=[('delay = { type = "float" }',
                    'delay = { type = "float", none_in = { "3.6" = ["TypeError", "y"] } }')])

    def test_none_in_bad_range(self):
        self.assertRefused(
            "loop-scheduling.toml: loop.call_later: params.delay.none_in: '3.6-' is not 3.N "
            "or 3.N-3.M", edits=self.none_in('{ "3.6-" = ["TypeError", "y"] }'))
        self.assertRefused(
            "loop-scheduling.toml: loop.call_later: params.delay.none_in: '3.4-3.6' is not a "
            "range within 3.6-3.13", edits=self.none_in('{ "3.4-3.6" = ["TypeError", "y"] }'))

    def test_none_in_covers_the_target(self):
        self.assertRefused(
            "loop-scheduling.toml: loop.call_later: params.delay.none_in: '3.9-3.12' covers "
            "the target 3.11, which none_raises describes",
            edits=self.none_in('{ "3.9-3.12" = ["TypeError", "y"] }'))

    def test_none_in_overlap(self):
        self.assertRefused(
            "loop-scheduling.toml: loop.call_later: params.delay.none_in: '3.7' overlaps or "
            "precedes the range before it",
            edits=self.none_in('{ "3.6-3.8" = ["TypeError", "y"], "3.7" = ["TypeError", "z"] }'))

    def test_none_in_accepted_number(self):
        self.assertRefused(
            "loop-scheduling.toml: loop.call_later: params.delay.none_in: '3.6' = \"accepted\" "
            "needs a pointer or callable type (NULL is passed on), not 'float'",
            edits=self.none_in('{ "3.6" = "accepted" }'))

    def test_none_in_unknown_exception_and_state_check(self):
        self.assertEqual(self.errors(edits=self.none_in(
            '{ "3.6" = { raises = ["Oops", ""], after = "loop_open" } }')), [
            "loop-scheduling.toml: loop.call_later: params.delay.none_in: unknown exception "
            "type 'Oops' (not in include/casyncio/exceptions.h)",
            "loop-scheduling.toml: loop.call_later: params.delay.none_in: '3.6' after "
            "'loop_open' is not one of gen/layout.toml [state_checks]"])

    def test_none_in_bad_value(self):
        self.assertRefused(
            "loop-scheduling.toml: loop.call_later: params.delay.none_in: '3.6' raises must be "
            "[\"ExceptionType\", \"message\"]", edits=self.none_in('{ "3.6" = ["TypeError"] }'))
        self.assertRefused(
            "loop-scheduling.toml: loop.call_later: unknown key 'colour' in "
            "params.delay.none_in.3.6",
            edits=self.none_in('{ "3.6" = { raises = ["TypeError", ""], colour = 1 } }'))

    def test_none_in_with_runtime_none_check(self):
        self.assertRefused(
            "loop-scheduling.toml: loop.call_later: params.callback.none_in cannot go with "
            "none_check = \"runtime\"",
            edits=[('callback = { type = "callback" }',
                    'callback = { type = "callback", none_raises = ["TypeError", "x"], '
                    'none_check = "runtime", none_in = { "3.6" = "accepted" } }')])

    def test_unknown_state_check(self):
        self.assertRefused(
            "loop-scheduling.toml: loop.call_later: state_check 'loop_open' is not one of "
            "gen/layout.toml [state_checks]",
            edits=[('kind = "method"\n', 'kind = "method"\nstate_check = "loop_open"\n')])

    def test_state_check_of_another_owner(self):
        item = CALL_LATER.replace('owner = "loop"', 'owner = "asyncio"').replace(
            'kind = "method"', 'kind = "function"')
        self.assertRefused(
            "loop-scheduling.toml: asyncio.call_later: state_check 'loop_closed' is for owner "
            "'loop', not 'asyncio'",
            edits=[(CALL_LATER, item.replace('kind = "function"\n',
                                             'kind = "function"\nstate_check = "loop_closed"\n'))])

    def test_case_value_unknown_fixture(self):
        self.assertRefused(
            "loop-scheduling.toml: loop.call_later: params.delay.cases.bad[0]: 'sometimes' is "
            "not a literal nor a fixture of gen/layout.toml [args_test] fixtures",
            edits=[('delay = { type = "float" }',
                    'delay = { type = "float", cases = { bad = ["sometimes"] } }')])

    def test_case_unknown_key(self):
        self.assertRefused(
            "loop-scheduling.toml: loop.call_later: unknown key 'worse' in params.delay.cases",
            edits=[('delay = { type = "float" }',
                    'delay = { type = "float", cases = { worse = "1" } }')])

    def test_type_case_value(self):
        types = TYPES.replace('doc = "a float"\n', 'doc = "a float"\ncases = { zero = "0.0.1" }\n')
        self.assertRefused("types.toml: types.float: cases.zero: '0.0.1' is not a literal nor "
                           "a fixture name", files={"types.toml": types})

    def test_returns_out_unknown_key(self):
        types = TYPES.replace('doc = "the handle" }',
                              'doc = "the handle", out = { name = "n", c = "size_t *", '
                              'doc = "x", colour = 1 } }')
        self.assertRefused("types.toml: types.timer_handle: unknown key 'colour' in "
                           "returns.out", files={"types.toml": types})

    def test_returns_out_not_a_pointer(self):
        types = TYPES.replace('doc = "the handle" }',
                              'doc = "the handle", out = { name = "n", c = "size_t", '
                              'doc = "x" } }')
        self.assertRefused("types.toml: types.timer_handle: key 'returns.out.c' must be a "
                           "pointer type", files={"types.toml": types})

    def test_returns_out_name_not_an_identifier(self):
        types = TYPES.replace('doc = "the handle" }',
                              'doc = "the handle", out = { name = "*n", c = "size_t *", '
                              'doc = "x" } }')
        self.assertRefused("types.toml: types.timer_handle: key 'returns.out.name' must be a "
                           "C identifier", files={"types.toml": types})

    def test_errors_are_all_reported(self):
        self.assertEqual(
            self.errors(edits=[('kind = "method"\n', 'kind = "method"\ncolour = "red"\n'),
                               ('version = "3.7"', 'version = "3"')]),
            ["loop-scheduling.toml: loop.call_later: unknown key 'colour'",
             "loop-scheduling.toml: loop.call_later: history[0]: version '3' is not N.N or "
             "N.N.N"])

    def test_cli_prints_errors_and_exits_1(self):
        with tempfile.TemporaryDirectory() as tmp:
            for name, text in (("owners.toml", OWNERS), ("types.toml", TYPES),
                               ("status.toml", "implemented = []\n"),
                               ("loop-scheduling.toml",
                                CALL_LATER.replace('owner = "loop"', 'owner = "lop"'))):
                with open(os.path.join(tmp, name), "w", encoding="utf-8") as f:
                    f.write(text)
            p = subprocess.run([sys.executable, os.path.join(GEN, "generate.py"),
                                "--spec", tmp, "--out", os.path.join(tmp, "out")],
                               capture_output=True, text=True)
        self.assertEqual(p.returncode, 1)
        self.assertEqual(p.stderr, "loop-scheduling.toml: lop.call_later: unknown owner "
                                   "'lop'\n")
        self.assertEqual(p.stdout, "")


# --------------------------------------------------------------------------
# The hand-written headers


class HeadersTest(unittest.TestCase):
    """gen/headers.py reads the headers' comment-before-declaration convention."""

    def parse(self, text, name="casyncio/x.h"):
        return headers.parse_header(name, textwrap.dedent(text))

    def test_fixture_header(self):
        h = headers.read_headers(FIXTURE_INCLUDE)
        self.assertEqual([x.path if x else None for x in h],
                         ["casyncio/things.h", None, "casyncio/extra.h"])
        things = h[0]
        self.assertEqual(things.what, "a fixture header: every form the reader follows.")
        self.assertEqual([b[0] for b in things.intro], ["p", "code", "p"])
        self.assertEqual([s.heading for s in things.sections],
                         ["", "Things", "Kinds (an enum, and what goes with it)"])
        self.assertEqual(things.api_names, ["aio_thing_new", "aio_thing_count",
                                            "aio_thing_name", "aio_thing_kind_of"])
        counted = things.sections[1].entries[2]
        self.assertEqual(counted.doc, [("p", "The count and the name of a thing.")])
        self.assertEqual(len(counted.code), 2)

    def test_undocumented_declaration_joins_the_one_before(self):
        h = self.parse("""\
            /* casyncio/x.h - x. */
            /* A struct. */
            typedef struct aio_x { int a; } aio_x;

            AIO_API int aio_x_use(aio_x *x);
            """)
        (section,) = h.sections
        (entry,) = section.entries
        self.assertEqual(entry.code, ["typedef struct aio_x { int a; } aio_x;",
                                      "AIO_API int aio_x_use(aio_x *x);"])

    def test_multiline_prototype_and_comment_inside(self):
        h = self.parse("""\
            /* casyncio/x.h - x. */
            /* Does it. */
            AIO_API int aio_x(int a,   /* the a; not ; the end */
                              int b);
            """)
        self.assertEqual(h.api_names, ["aio_x"])

    def test_define_with_a_comment_over_two_lines(self):
        h = self.parse("""\
            /* casyncio/x.h - x. */
            /* Values. */
            #define AIO_X 1   /* one,
                                 and more */
            AIO_API int aio_x(void);
            """)
        (entry,) = h.sections[0].entries
        self.assertEqual(len(entry.code), 2)
        self.assertEqual(h.api_names, ["aio_x"])

    def test_comment_not_closed(self):
        with self.assertRaises(SpecError) as cm:
            self.parse("/* casyncio/x.h - x. */\n/* open\nAIO_API int aio_x(void);\n")
        self.assertEqual(cm.exception.errors,
                         ["include/casyncio/x.h: line 2: a comment is not closed"])

    def test_declaration_not_closed(self):
        with self.assertRaises(SpecError) as cm:
            self.parse("/* casyncio/x.h - x. */\nAIO_API int aio_x(void)\n")
        self.assertEqual(cm.exception.errors,
                         ["include/casyncio/x.h: line 2: a declaration is not closed"])

    def test_stray_endif(self):
        with self.assertRaises(SpecError) as cm:
            self.parse("/* casyncio/x.h - x. */\n#endif\n")
        self.assertEqual(cm.exception.errors,
                         ["include/casyncio/x.h: line 2: #endif without #if"])


class TreeTest(unittest.TestCase):
    """The repository's own generated/docs/api.md documents every public
    declaration: the generated API's and the hand-written headers'."""

    def test_every_aio_api_declaration_is_in_api_md(self):
        with open(os.path.join(ROOT, "generated", "docs", "api.md"), encoding="utf-8") as f:
            doc = f.read()
        names = set()
        for sub in (os.path.join(ROOT, "include"), os.path.join(ROOT, "generated", "include")):
            for dirpath, _, files in os.walk(sub):
                for name in files:
                    if name.endswith(".h"):
                        with open(os.path.join(dirpath, name), encoding="utf-8") as f:
                            names |= set(headers.API_NAME_RE.findall(
                                re.sub(r"/\*.*?\*/", "", f.read(), flags=re.S)))
        self.assertGreater(len(names), 200)
        missing = sorted(n for n in names if not re.search(r"\b" + n + r"\b", doc))
        self.assertEqual(missing, [], "AIO_API declarations missing from generated/docs/api.md")


# --------------------------------------------------------------------------
# Compiling the golden output

def compilers():
    return {name: shutil.which(name) for name in ("gcc", "g++", "clang")}


@unittest.skipUnless(shutil.which("gcc"), "gcc is not installed: the golden C is not compiled")
class CompileTest(unittest.TestCase):
    WARN = ["-Wall", "-Wextra", "-Werror"]
    # The repository's generated/include last: a hand-written header may
    # include a generated one the fixture spec does not make (tasks.h
    # includes tasks_api.h).
    INC = ["-I" + INCLUDE, "-I" + os.path.join(GOLDEN, "include"),
           "-I" + os.path.join(GOLDEN, "src"),
           "-I" + os.path.join(ROOT, "generated", "include")]

    def cc(self, argv, source=None):
        p = subprocess.run(argv, input=source, capture_output=True, text=True)
        self.assertEqual(p.returncode, 0, f"{' '.join(argv)}\n{p.stderr}")
        return p

    def headers(self, cc, std, lang="c"):
        self.cc([cc, "-x", lang, f"-std={std}", "-pedantic", *self.WARN, *self.INC,
                 "-fsyntax-only", "-"], source="#include <casyncio.h>\n")

    def test_headers_c99(self):
        self.headers("gcc", "c99")

    def test_headers_c11(self):
        self.headers("gcc", "c11")

    @unittest.skipUnless(shutil.which("g++"), "g++ is not installed")
    def test_headers_cxx(self):
        self.headers("g++", "c++11", "c++")

    @unittest.skipUnless(shutil.which("clang"), "clang is not installed")
    def test_headers_clang(self):
        self.headers("clang", "c99")

    def test_sources_compile(self):
        with tempfile.TemporaryDirectory() as tmp:
            for src, std in (("src/glue.c", "c11"), ("src/stubs.c", "c11"),
                             ("tests/args_check.c", "c99")):
                self.cc(["gcc", f"-std={std}", "-pedantic", *self.WARN, *self.INC, "-c",
                         os.path.join(GOLDEN, src), "-o", os.path.join(tmp, "x.o")])

    def test_args_table_compiles(self):
        self.cc(["gcc", "-std=c11", "-pedantic", *self.WARN, *self.INC,
                 "-I" + os.path.join(ROOT, "tests", "args"), "-fsyntax-only",
                 os.path.join(GOLDEN, "tests", "args_table.c")])
        with open(os.path.join(GOLDEN, "tests", "args_table.py"), encoding="utf-8") as f:
            compile(f.read(), "args_table.py", "exec")

    def test_glue_applies_defaults(self):
        with tempfile.TemporaryDirectory() as tmp:
            exe = os.path.join(tmp, "harness")
            self.cc(["gcc", "-std=c11", *self.WARN, *self.INC,
                     os.path.join(HERE, "glue_harness.c"), os.path.join(GOLDEN, "src/glue.c"),
                     os.path.join(GOLDEN, "src/stubs.c"), "-o", exe])
            p = subprocess.run([exe], capture_output=True, text=True, check=True)
        self.maxDiff = None
        self.assertEqual(p.stdout, textwrap.dedent("""\
            get_running_loop: LOOP
            call_later: delay=1.5 args=NULL context=NULL
            call_later: delay=0 args=NULL context=NULL
            call_later(delay=None): TypeError: delay must not be None
            call_later(callback=None): TypeError: a callable object was expected by call_later(), got None
            call_later(NULL args): TypeError: a callable object was expected by call_later(), got None
            call_later(self=NULL): TypeError: descriptor 'call_later' for 'BaseEventLoop' objects doesn't apply to a 'NoneType' object
            wait_mode: return_when=0 stack_size=0
            wait_mode: return_when=2 stack_size=7
            wait_mode(return_when=None): TypeError: wait_mode() argument 'return_when' must not be None
            create_server: host=None port=None family=0 flags=1 sock=None backlog=100 reuse_address=None reuse_port=None ssl_handshake_timeout=None start_serving=True
            create_server(defaults): no exception
            create_server: host=::1 port=0 family=10 flags=0 sock=0 backlog=0 reuse_address=True reuse_port=False ssl_handshake_timeout=0 start_serving=False
            create_server(explicit): no exception
            create_server: host=None port=8888 family=0 flags=1 sock=None backlog=5 reuse_address=True reuse_port=None ssl_handshake_timeout=2.5 start_serving=False
            create_server(values): no exception
            create_server(backlog=None): TypeError: 'NoneType' object cannot be interpreted as an integer
            create_server(NULL args): TypeError: protocol_factory must be a callable
            create_server(backlog=None) on a closed loop: RuntimeError: Event loop is closed
            subprocess_exec: stdin=-1 stdout=-1 stderr=-1
            subprocess_exec: stdin=None stdout=0 stderr=-2
            slow_callback_duration: 0.1
            slow_callback_duration: 0
            slow_callback_duration = None: TypeError: loop.slow_callback_duration must not be None
            slow_callback_duration of NULL: TypeError: descriptor 'slow_callback_duration' for 'BaseEventLoop' objects doesn't apply to a 'NoneType' object
            add_reader: NotImplementedError: loop.add_reader() is not implemented yet
            add_reader(fd=None): NotImplementedError: loop.add_reader() is not implemented yet
            get_extra_info: NotImplementedError: transport.get_extra_info() is not implemented yet
            cancel(self=NULL): TypeError: descriptor 'cancel' for 'Handle' objects doesn't apply to a 'NoneType' object
            get_running_loop() at 3.6: AttributeError: module 'asyncio' has no attribute 'get_running_loop'
            create_server(ssl_handshake_timeout=2.5) at 3.6: TypeError: create_server() got an unexpected keyword argument 'ssl_handshake_timeout'
            create_server: host=None port=None family=0 flags=1 sock=None backlog=100 reuse_address=None reuse_port=None ssl_handshake_timeout=None start_serving=True
            create_server() at 3.6: no exception
            3.6 call_later(delay=None): AssertionError: 
            3.6 closed call_later(delay=None): RuntimeError: Event loop is closed
            create_server: host=None port=1 family=0 flags=1 sock=None backlog=100 reuse_address=None reuse_port=None ssl_handshake_timeout=None start_serving=True
            3.6 create_server(protocol_factory=None): no exception
            3.9 call_later(delay=None): TypeError: unsupported operand type(s) for +: 'float' and 'NoneType'
            3.9 closed call_later(delay=None): TypeError: unsupported operand type(s) for +: 'float' and 'NoneType'
            3.9 create_server(protocol_factory=None): TypeError: protocol_factory must be a callable
            3.11 call_later(delay=None): TypeError: delay must not be None
            3.11 closed call_later(delay=None): TypeError: delay must not be None
            3.11 create_server(protocol_factory=None): TypeError: protocol_factory must be a callable
            """))

    def level_program(self, compiler, level, body):
        """Whether a program using the golden headers at an API level
        compiles (syntax only)."""
        with tempfile.TemporaryDirectory() as tmp:
            src = os.path.join(tmp, "p.c")
            with open(src, "w") as f:
                f.write(f"#define AIO_API_LEVEL {level}\n#include <casyncio.h>\n"
                        f"int f(aio_loop *loop);\nint f(aio_loop *loop)\n{{\n{body}\n}}\n")
            p = subprocess.run([compiler, "-std=c11", *self.WARN, *self.INC, "-fsyntax-only",
                                src], capture_output=True, text=True)
            return p.returncode == 0, p.stderr

    def test_api_level(self):
        """A function or field newer than AIO_API_LEVEL does not compile;
        at its version it does; the struct is the same size at both."""
        for compiler in [c for c in ("gcc", "clang") if shutil.which(c)]:
            call = "return aio_get_running_loop() == loop;"
            field = ("aio_loop_create_server_args a = {.ssl_handshake_timeout = 1};\n"
                     "(void)a; (void)loop; return 0;")
            size = ("_Static_assert(sizeof(aio_loop_create_server_args) == SIZE, \"size\");\n"
                    "(void)loop; return 0;")
            ok, err = self.level_program(compiler, "AIO_PY(3, 6)", call)
            self.assertFalse(ok)
            self.assertIn("added in Python 3.7, after AIO_API_LEVEL", err)
            self.assertFalse(self.level_program(compiler, "AIO_PY(3, 6)", field)[0])
            self.assertTrue(self.level_program(compiler, "AIO_PY(3, 7)", call)[0])
            self.assertTrue(self.level_program(compiler, "AIO_PY(3, 7)", field)[0])
            sizes = []
            for level in ("AIO_PY(3, 6)", "AIO_PY(3, 13)"):
                for n in range(8, 400, 8):
                    if self.level_program(compiler, level, size.replace("SIZE", str(n)))[0]:
                        sizes.append(n)
                        break
            self.assertEqual(len(sizes), 2)
            self.assertEqual(sizes[0], sizes[1])


if __name__ == "__main__":
    unittest.main()
