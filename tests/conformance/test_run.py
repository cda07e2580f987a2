#!/usr/bin/env python3
"""Tests of run.py itself: the `# versions:` marker, known-differences.toml,
--target, and a whole run over a scenario made up here (its C twin prints
the target version the harness gave it), with every verdict: ok, known,
FIXED, FAIL, n/a and a trace for a version the scenario is not for.

    python3 tests/conformance/test_run.py        # needs build/libcasyncio.a
                                                 # (or $CONFORMANCE_LIB)

Standard library only.
"""

import hashlib
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
LIB = os.environ.get("CONFORMANCE_LIB") or os.path.join(ROOT, "build", "libcasyncio.a")
sys.path.insert(0, HERE)

import run  # noqa: E402


class VersionSpec(unittest.TestCase):
    def test_forms(self):
        later = run.parse_version_spec("3.11+")
        self.assertFalse(later("3.10.13"))
        self.assertTrue(later("3.11.7"))
        self.assertTrue(later("3.13.0"))
        span = run.parse_version_spec("3.8-3.10")
        self.assertTrue(span("3.8.18"))
        self.assertTrue(span("3.10.13"))
        self.assertFalse(span("3.11.7"))
        several = run.parse_version_spec("3.9, 3.12+")
        self.assertEqual([several(v) for v in ("3.8.18", "3.9.18", "3.11.7", "3.12.1")],
                         [False, True, False, True])

    def test_bad(self):
        for spec in ("3", "3.11 +", "3.10-3.8", "3.8-", "latest", ""):
            with self.assertRaises(ValueError, msg=spec):
                run.parse_version_spec(spec)

    def test_select_versions(self):
        have = ["3.8.18", "3.11.7", "3.12.1"]
        self.assertEqual(run.select_versions(None, have, "3.11.7"), have)
        self.assertEqual(run.select_versions("all", ["3.8.18"], "3.11.7"), ["3.8.18", "3.11.7"])
        self.assertEqual(run.select_versions("3.12,3.8.18", have, "3.11.7"),
                         ["3.8.18", "3.12.1"])
        with self.assertRaises(SystemExit):
            run.select_versions("3.7", have, "3.11.7")
        with self.assertRaises(SystemExit):
            run.select_versions("three", have, "3.11.7")


class KnownFile(unittest.TestCase):
    def read(self, text):
        with tempfile.NamedTemporaryFile("w", suffix=".toml", delete=False) as f:
            f.write(text)
        try:
            return run.read_known(f.name)
        finally:
            os.unlink(f.name)

    def test_entries(self):
        known = self.read('# a comment\n\n["3.8.18"]\nfoo = "says \\"x\\" # not a comment"\n'
                          'bar = "b"  # a comment\n["3.12.1"]\nfoo = "c"\n')
        self.assertEqual(known, {("3.8.18", "foo"): 'says "x" # not a comment',
                                 ("3.8.18", "bar"): "b", ("3.12.1", "foo"): "c"})

    def test_missing_file(self):
        self.assertEqual(run.read_known("/nonexistent/known.toml"), {})

    def test_refused(self):
        for text in ('foo = "before any table"\n',
                     '["3.8.18"]\nfoo = "a"\nfoo = "again"\n',
                     '["3.8.18"]\n["3.8.18"]\n',
                     '["3.8.18"]\nfoo = ""\n',
                     '["3.8.18"]\nfoo = bar\n',
                     '["3.8"]\nfoo = "a version of two parts"\n',
                     '[3.8.18]\nfoo = "unquoted table"\n'):
            with self.assertRaises(SystemExit, msg=text):
                self.read(text)


@unittest.skipUnless(os.path.exists(LIB), "%s is not built" % LIB)
class WholeRun(unittest.TestCase):
    """run.py over a temporary scenario directory, C programs only."""

    C_TWIN = r'''/* Prints the target version the harness set. */
#include <stdio.h>
#include <casyncio.h>

int main(void)
{
    int v = aio_get_target_version();
    printf("target %d.%d\n", v >> 16, (v >> 8) & 0xff);
    return 0;
}
'''

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="conformance-test-")
        self.scenarios = os.path.join(self.dir, "scenarios")
        self.traces = os.path.join(self.dir, "traces")
        self.known = os.path.join(self.dir, "known.toml")
        os.makedirs(self.scenarios)
        self.write_scenario("")

    def tearDown(self):
        shutil.rmtree(self.dir)

    def write_scenario(self, header):
        self.py = header + 'print("whatever")\n'
        with open(os.path.join(self.scenarios, "demo.py"), "w") as f:
            f.write(self.py)
        with open(os.path.join(self.scenarios, "demo.c"), "w") as f:
            f.write(self.C_TWIN)

    def write_trace(self, version, stdout):
        os.makedirs(os.path.join(self.traces, version), exist_ok=True)
        digest = hashlib.sha256(self.py.encode()).hexdigest()
        with open(os.path.join(self.traces, version, "demo.out"), "w") as f:
            f.write("scenario sha256 %s\nexit status 0\n%s" % (digest, stdout))

    def write_known(self, text):
        with open(self.known, "w") as f:
            f.write(text)

    def run_py(self, *extra):
        proc = subprocess.run(
            [sys.executable, os.path.join(HERE, "run.py"), "--no-python", "-j1",
             "--scenarios", self.scenarios, "--traces", self.traces, "--known", self.known,
             "--build", os.path.join(self.dir, "build"), "--lib", LIB] + list(extra),
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True)
        return proc.returncode, proc.stdout

    def test_each_version_is_passed_to_the_c_twin(self):
        self.write_trace("3.8.18", "target 3.8\n")
        self.write_trace("3.11.7", "target 3.11\n")
        self.write_trace("3.13.0", "target 3.13\n")
        code, out = self.run_py()
        self.assertEqual(code, 0, out)
        self.assertIn("3.8.18: 1 of 1 match", out)
        self.assertIn("3.13.0: 1 of 1 match", out)

    def test_mismatch_fails_unless_known(self):
        self.write_trace("3.8.18", "target 3.11\n")     # as if the runtime ignored 3.8
        self.write_trace("3.11.7", "target 3.11\n")
        code, out = self.run_py()
        self.assertEqual(code, 1, out)
        self.assertIn("FAIL   demo", out)
        self.assertIn("-target 3.11", out)
        self.write_known('["3.8.18"]\ndemo = "the runtime does not switch yet"\n')
        code, out = self.run_py()
        self.assertEqual(code, 0, out)
        self.assertIn("[known: 3.8.18]", out)
        self.assertIn("3.8.18: 0 of 1 match, 1 known differences", out)

    def test_known_that_matches_fails_and_is_pruned(self):
        self.write_trace("3.8.18", "target 3.8\n")
        self.write_trace("3.11.7", "target 3.11\n")
        self.write_known('["3.8.18"]\ndemo = "stale entry"\n["3.11.7"]\n# kept\n')
        code, out = self.run_py()
        self.assertEqual(code, 1, out)
        self.assertIn("FIXED: 3.8.18", out)
        code, out = self.run_py("--prune-known")
        self.assertEqual(code, 1, out)                  # this run still reports it
        with open(self.known) as f:
            self.assertEqual(f.read(), '["3.8.18"]\n["3.11.7"]\n# kept\n')
        code, out = self.run_py()
        self.assertEqual(code, 0, out)

    def test_known_entry_of_nothing_fails(self):
        self.write_trace("3.11.7", "target 3.11\n")
        self.write_known('["3.11.7"]\nnot_a_scenario = "x"\n')
        code, out = self.run_py()
        self.assertEqual(code, 1, out)
        self.assertIn("no such scenario", out)
        self.write_known('["3.9.18"]\ndemo = "x"\n')
        code, out = self.run_py()
        self.assertEqual(code, 1, out)
        self.assertIn("no traces of that version", out)

    def test_versions_marker(self):
        self.write_scenario("# A demo.\n# versions: 3.11+\n")
        self.write_trace("3.11.7", "target 3.11\n")
        os.makedirs(os.path.join(self.traces, "3.8.18"))
        code, out = self.run_py()
        self.assertEqual(code, 0, out)
        self.assertIn("[n/a: 3.8.18]", out)
        self.assertIn("1 not for this version", out)
        self.write_trace("3.8.18", "target 3.8\n")       # a trace it should not have
        code, out = self.run_py()
        self.assertEqual(code, 1, out)
        self.assertIn("the scenario is for 3.11+ only", out)
        self.write_scenario("# versions: 3.11 and later\n")
        code, out = self.run_py()
        self.assertEqual(code, 1, out)
        self.assertIn("expected X.Y, X.Y+ or X.Y-X.Y", out)

    def test_missing_trace_and_stale_hash(self):
        self.write_trace("3.11.7", "target 3.11\n")
        os.makedirs(os.path.join(self.traces, "3.12.1"))
        code, out = self.run_py()
        self.assertEqual(code, 1, out)
        self.assertIn("no recorded trace", out)
        self.write_trace("3.12.1", "target 3.12\n")
        self.write_scenario("# edited\n")
        code, out = self.run_py("--target", "3.12")
        self.assertEqual(code, 1, out)
        self.assertIn("changed since its 3.12.1 trace was recorded", out)

    def test_record_refuses_another_interpreter(self):
        self.write_trace("3.11.7", "target 3.11\n")
        other = "3.8.18" if platform.python_version() != "3.8.18" else "3.9.18"
        proc = subprocess.run(
            [sys.executable, os.path.join(HERE, "run.py"), "--record", "--target", other,
             "--target-python", sys.executable, "--scenarios", self.scenarios,
             "--traces", self.traces],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True)
        self.assertEqual(proc.returncode, 2, proc.stdout)
        self.assertIn("refused", proc.stdout)
        self.assertFalse(os.path.exists(os.path.join(self.traces, other)))


if __name__ == "__main__":
    unittest.main()
