"""make check-versions: the spec's signatures against every CPython 3.6-3.13 present.

    python3 gen/check_versions.py [--spec spec] [--python 3.8=/path/python3 ...]

For each minor version 3.6 to 3.13 it finds an interpreter (the newest
/root/.pyenv/versions/3.N.*, else python3.N, else python3 when it is 3.N),
runs gen/sig_introspect.py under it, and compares what that asyncio has
with what the spec says the version has (gen/version_sigs.py): each item's
existence, and the names, kinds, order and defaults of its parameters. It
also names the public methods of every class the spec describes (the
loop, Future, Task, Handle, Server, locks, queues, streams, ...) and
asyncio's public functions that the spec does not describe and IGNORED
does not excuse. Versions with no interpreter are
skipped, named. Exit 1 when anything differs, listing the records to add.
"""

import argparse
import glob
import json
import os
import re
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import generate  # noqa: E402
import spec_model  # noqa: E402
import version_sigs  # noqa: E402

MINORS = range(6, 14)
PYENV = "/root/.pyenv/versions"

# owner of the public-name listing -> the spec owners whose items cover it
PUBLIC_OWNERS = {
    "loop": ["loop"], "future": ["future"], "task": ["task", "future"],
    "handle": ["handle"], "timer_handle": ["timer_handle", "handle"],
    "server": ["server"], "module": ["asyncio", "tasks", "streams"],
    "lock": ["lock"], "event": ["event"], "condition": ["condition"],
    "semaphore": ["semaphore"], "bounded_semaphore": ["bounded_semaphore", "semaphore"],
    "barrier": ["barrier"], "queue": ["queue"], "priority_queue": ["priority_queue", "queue"],
    "lifo_queue": ["lifo_queue", "queue"], "task_group": ["task_group"],
    "timeout": ["timeout"], "runner": ["runner"], "stream_reader": ["stream_reader"],
    "stream_reader_protocol": ["stream_reader_protocol", "protocol"],
    "stream_writer": ["stream_writer"], "process": ["process"],
}

# Public names the spec does not describe, with why.
IGNORED = {
    "module.iscoroutine": "a predicate of the coroutine machinery, which C has not",
    "module.iscoroutinefunction": "a predicate of the coroutine machinery, which C has not",
    "module.isfuture": "a Python type test; C's types tell",
    "module.coroutine": "the generator-based coroutine decorator (removed in 3.11); C has no generators",
    "module.async": "ensure_future's old name (3.6 only)",
    "module.wrap_future": "wraps a concurrent.futures.Future, which C has not",
    "module.run_coroutine_threadsafe": "takes a Python coroutine object; not in the C API",
    "module.create_eager_task_factory": ("takes a Task subclass to construct eager tasks; C has "
                                         "none: eager_task_factory is the item"),
    "task.get_stack": "tracebacks of a Python coroutine frame",
    "task.print_stack": "tracebacks of a Python coroutine frame",
    "task.all_tasks": "the classmethod removed in 3.9; asyncio.all_tasks() is the item",
    "task.current_task": "the classmethod removed in 3.9; asyncio.current_task() is the item",
    "stream_reader.set_transport": "plumbing StreamReaderProtocol calls; not documented",
    "stream_writer.start_tls": ("3.11, in the target, but not yet an item: one would add a "
                                "C function (noted in StreamWriter's history)"),
}


def find_interpreters(explicit):
    """{minor: path} for 3.6-3.13, explicit ones first."""
    found = {}
    for minor, path in explicit.items():
        found[minor] = path
    for minor in MINORS:
        if minor in found:
            continue
        dirs = glob.glob(os.path.join(PYENV, f"3.{minor}.*"))
        dirs = [d for d in dirs if re.match(rf"^3\.{minor}\.[0-9]+$", os.path.basename(d))]
        dirs.sort(key=lambda d: [int(x) for x in os.path.basename(d).split(".")])
        for d in reversed(dirs):
            exe = os.path.join(d, "bin", "python3")
            if os.access(exe, os.X_OK):
                found[minor] = exe
                break
        else:
            for exe in (f"/usr/bin/python3.{minor}", "/usr/bin/python3"):
                if os.access(exe, os.X_OK) and _minor_of(exe) == minor:
                    found[minor] = exe
                    break
    return found


def _minor_of(exe):
    try:
        out = subprocess.run([exe, "-c", "import sys; print(sys.version_info[1])"],
                             capture_output=True, text=True, timeout=30)
        return int(out.stdout.strip())
    except (OSError, ValueError, subprocess.TimeoutExpired):
        return None


def introspect(exe, request):
    proc = subprocess.run([exe, os.path.join(HERE, "sig_introspect.py")],
                          input=json.dumps(request), capture_output=True, text=True,
                          timeout=120)
    if proc.returncode != 0:
        raise RuntimeError(f"{exe}: gen/sig_introspect.py failed:\n{proc.stderr}")
    return json.loads(proc.stdout)


def check_version(spec, got, used=None):
    """The lines of what differs between the spec and one interpreter's answer.

    used: a set that gathers the IGNORED entries this answer needed."""
    version = version_sigs.version_key(got["version"])
    minor = f"{version[0]}.{version[1]}"
    lines = []
    for item in spec.items:
        answer = got["items"].get(item.id, {})
        if answer.get("exists") is None:
            continue
        params, problems = version_sigs.signature_in(item, version, spec.constants)
        lines.extend(f"{minor}: {p}" for p in problems)
        if problems:
            continue
        if answer["exists"] and params is None:
            lines.append(f"{minor}: {item.id}: CPython has it; the spec says it does not "
                         "exist: fix its effect = \"appeared\"/\"gone\" history")
            continue
        if not answer["exists"]:
            if params is not None:
                lines.append(f"{minor}: {item.id}: CPython has no such item; record when it "
                             "appeared or went (history with effect = \"appeared\" or \"gone\")")
            continue
        if answer.get("params") is None:
            continue
        reason = version_sigs.compare(params, answer["params"])
        if reason:
            lines.append(f"{minor}: {item.id}: {reason}")
    known = {(item.owner, item.name) for item in spec.items}
    for owner, names in got["public"].items():
        for name in names:
            if any((o, name) in known for o in PUBLIC_OWNERS[owner]):
                continue
            if f"{owner}.{name}" in IGNORED:
                if used is not None:
                    used.add(f"{owner}.{name}")
                continue
            lines.append(f"{minor}: {owner}.{name}: public in CPython, not in the spec "
                         "(add an item, or an IGNORED entry of gen/check_versions.py "
                         "with the reason)")
    return lines


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--spec", default=os.path.join(os.path.dirname(HERE), "spec"))
    ap.add_argument("--python", action="append", default=[],
                    help="3.N=PATH: the interpreter for 3.N")
    args = ap.parse_args(argv)
    explicit = {}
    for text in args.python:
        v, _, path = text.partition("=")
        explicit[int(v.split(".")[1])] = path
    try:
        spec = spec_model.load_spec(args.spec, generate.load_layout(),
                                    generate.load_exceptions())
    except spec_model.SpecError as e:
        print("\n".join(e.errors), file=sys.stderr)
        return 1
    request = {"items": [[it.id, it.owner, it.name, it.kind] for it in spec.items],
               "public": sorted(PUBLIC_OWNERS)}
    found = find_interpreters(explicit)
    missing = [f"3.{m}" for m in MINORS if m not in found]
    if missing:
        print(f"check-versions: skipped (no interpreter): {', '.join(missing)}")
    failures, used = [], set()
    for minor in sorted(found):
        try:
            got = introspect(found[minor], request)
        except (OSError, RuntimeError, ValueError, subprocess.TimeoutExpired) as e:
            print(f"check-versions: 3.{minor} ({found[minor]}): cannot introspect")
            failures.append(f"3.{minor}: {e}")
            continue
        lines = check_version(spec, got, used)
        print(f"check-versions: {got['version']} ({found[minor]}): "
              f"{'ok' if not lines else str(len(lines)) + ' difference(s)'}")
        failures.extend(lines)
    if not missing:
        # Every version looked: an entry none needed is stale.
        failures.extend(f"{name}: in IGNORED, but no version has it: drop the entry"
                        for name in sorted(set(IGNORED) - used))
    if failures:
        print("check-versions: the spec lacks these records (or a version could not be read):")
        for line in failures:
            print("  " + line)
        return 1
    print(f"check-versions: {len(found)} version(s) agree with the spec")
    return 0


if __name__ == "__main__":
    sys.exit(main())
