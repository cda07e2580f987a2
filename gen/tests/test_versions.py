"""Tests of the version marks: the API level in the headers, the target
version's gates in the glue (gen/c_model.py availability and friends).

The golden files cover what the fixture spec has (an item and parameters
added in 3.7); these render the tiny spec of test_generate with history
entries for the other cases: removals, a span with both ends, a stub.
"""

import io
import os
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

import c_model  # noqa: E402
import generate  # noqa: E402
from gen.tests.test_generate import CALL_LATER, OWNERS, TYPES  # noqa: E402

HISTORY = """
[[item.history]]
version = "{version}"
change = "{change}"
{extra}note = "A note."
pages = []
"""


def render(*entries, implemented=True):
    """Renders the tiny spec with call_later given history entries
    (version, change, extra lines); returns {path: text} of the output."""
    item = CALL_LATER.replace('delay = { type = "float" }',
                              'delay = { type = "float", cases = { valid = "1" } }')
    item = item.replace('callback = { type = "callback" }',
                        'callback = { type = "callback", cases = { valid = "noop" } }')
    item = item + "".join(HISTORY.format(version=v, change=c, extra=x)
                                for v, c, x in entries)
    spec = {"owners.toml": OWNERS, "types.toml": TYPES,
            "status.toml": 'implemented = ["loop.call_later"]\n' if implemented
            else "implemented = []\n",
            "loop-scheduling.toml": item}
    with tempfile.TemporaryDirectory() as tmp:
        for name, text in spec.items():
            with open(os.path.join(tmp, name), "w", encoding="utf-8") as f:
                f.write(text)
        out = os.path.join(tmp, "out")
        assert generate.run(tmp, out, stdout=io.StringIO()) == 0
        files = {}
        for dirpath, _, names in os.walk(out):
            for n in names:
                with open(os.path.join(dirpath, n), encoding="utf-8") as f:
                    files[os.path.relpath(os.path.join(dirpath, n), out)] = f.read()
        return files


def glue_of(files, name="aio_loop_call_later"):
    text = files["src/glue.c"]
    start = text.index(f"*{name}(")
    return text[start:text.index("\n}\n", start)]


class SpanTest(unittest.TestCase):
    def test_version_span(self):
        span = c_model.version_span
        every = {m: True for m in range(6, 14)}
        self.assertEqual(span(every), (0, 0))
        self.assertEqual(span({**every, 6: False, 7: False}), (8, 0))
        self.assertEqual(span({**every, 12: False, 13: False}), (0, 12))
        self.assertEqual(span({**every, 6: False, 13: False}), (7, 13))
        self.assertEqual(span({m: False for m in range(6, 14)}), (0, 0))
        # Only the versions given count: an item that came in 3.9.
        self.assertEqual(span({9: False, 10: True, 11: True}), (10, 0))

    def test_level_condition_and_names(self):
        self.assertEqual(c_model.level_condition(11, 0), "AIO__LEVEL_MAX >= AIO_PY(3, 11)")
        self.assertEqual(c_model.level_condition(0, 12), "AIO__LEVEL_MIN < AIO_PY(3, 12)")
        self.assertEqual(c_model.level_condition(8, 12),
                         "AIO__LEVEL_MAX >= AIO_PY(3, 8) && AIO__LEVEL_MIN < AIO_PY(3, 12)")
        self.assertEqual(c_model.version_words(8, 12), "since_3_8_until_3_12")
        self.assertEqual(c_model.version_sentence(8, 12), "Since 3.8. Removed in 3.12.")


class RenderTest(unittest.TestCase):
    def test_no_history_no_marks(self):
        files = render()
        self.assertNotIn("AIO__SINCE", files["include/casyncio/loop.h"])
        self.assertNotIn("#if AIO__LEVEL", files["include/casyncio/loop.h"])
        self.assertNotIn("target_version", files["src/glue.c"])

    def test_item_gone(self):
        files = render(("3.12", "removed", 'effect = "gone"\n'))
        header = files["include/casyncio/loop.h"]
        self.assertIn("AIO__UNTIL_3_12 AIO_API aio_timer_handle *aio_loop_call_later(", header)
        self.assertIn("Removed in 3.12.", header)
        glue = glue_of(files)
        self.assertIn("if (aio_loop_get_target_version(loop) >= AIO_PY(3, 12)) {", glue)
        self.assertIn("\"'_UnixSelectorEventLoop' object has no attribute 'call_later'\"",
                      glue)
        # After the NULL self check, before the arguments'.
        self.assertLess(glue.index("aio__glue_null_self"), glue.index("AIO_PY(3, 12)"))
        self.assertLess(glue.index("AIO_PY(3, 12)"), glue.index("args = &no_args"))

    def test_item_span(self):
        files = render(("3.8", "added", 'effect = "appeared"\n'),
                       ("3.12", "removed", 'effect = "gone"\n'))
        self.assertIn("AIO__SINCE_3_8 AIO__UNTIL_3_12 AIO_API",
                      files["include/casyncio/loop.h"])
        glue = glue_of(files)
        self.assertIn("if (aio_loop_get_target_version(loop) < AIO_PY(3, 8) ||", glue)

    def test_param_added(self):
        files = render(("3.9", "added", 'params = ["context"]\n'))
        header = files["include/casyncio/loop.h"]
        self.assertIn("#if AIO__LEVEL_MAX >= AIO_PY(3, 9)\n    aio_context *context;", header)
        self.assertIn("#else\n    aio_context *aio__since_3_9_context;\n#endif", header)
        glue = glue_of(files)
        self.assertIn("if (args != NULL && args->context != NULL && "
                      "aio_loop_get_target_version(loop) < AIO_PY(3, 9)) {", glue)
        self.assertIn('"BaseEventLoop.call_later",\n', glue)
        # Binding comes before the arguments' own checks.
        self.assertLess(glue.index("args->context != NULL"), glue.index("args = &no_args"))

    def test_param_removed(self):
        # The spec describes 3.11: a parameter it has and 3.12 removed.
        files = render(("3.12", "removed", 'params = ["context"]\n'))
        header = files["include/casyncio/loop.h"]
        self.assertIn("#if AIO__LEVEL_MIN < AIO_PY(3, 12)\n    aio_context *context;", header)
        self.assertIn("    aio_context *aio__until_3_12_context;\n#endif", header)
        self.assertIn("A context. Removed in 3.12.",
                      " ".join(header.replace(" * ", " ").split()))
        glue = " ".join(glue_of(files).split())
        self.assertIn("if (args != NULL && args->context != NULL && "
                      "aio_loop_get_target_version(loop) >= AIO_PY(3, 12)) {", glue)

    def test_stub_gets_the_item_gate_only(self):
        files = render(("3.8", "added", 'effect = "appeared"\n'),
                       ("3.9", "added", 'params = ["context"]\n'), implemented=False)
        glue = glue_of(files)
        self.assertIn("< AIO_PY(3, 8)", glue)
        self.assertNotIn("args->context", glue)


if __name__ == "__main__":
    unittest.main()
