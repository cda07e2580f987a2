#!/usr/bin/env python3
"""The compile-time API level (include/casyncio/pyversion.h), checked.

Small programs include <casyncio.h> after defining AIO_API_LEVEL and use a
function or an argument field at a level that has it (must compile) and at
one that does not (must fail, naming the reason), with gcc and clang, as C
and as C++. Then every argument struct of the public headers must have the
same size and alignment at every level (the ABI does not move).

    python3 tests/api-level/run.py [--cc gcc] [--cc clang] [CPPFLAGS...]

Run by `make check-api-level`; exit status 1 on any failure.
"""

import argparse
import concurrent.futures
import glob
import os
import re
import shutil
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
INC = ["-I" + os.path.join(ROOT, "include"), "-I" + os.path.join(ROOT, "generated/include")]
WARN = ["-Wall", "-Wextra", "-Werror"]

# (name, newest level without it, oldest level with it, C body, C++ body,
#  what the error must say). A body is the inside of `int f(void *p)`.
CASES = [
    ("loop.sock_recvfrom()", (3, 10), (3, 11),
     "return aio_loop_sock_recvfrom((aio_loop *)p, 0, 1) != NULL;", None, "aio_loop_sock_recvfrom"),
    ("&aio_loop_sock_recvfrom", (3, 10), (3, 11),
     "aio_future *(*fn)(aio_loop *, int, int64_t) = aio_loop_sock_recvfrom;\n"
     "(void)p; return fn != NULL;", None, "aio_loop_sock_recvfrom"),
    ("asyncio.create_task(context=)", (3, 10), (3, 11),
     "aio_create_task_args a = {.context = (aio_context *)p};\nreturn a.name == NULL;",
     "aio_create_task_args a = aio_create_task_args();\n"
     "a.context = (aio_context *)p;\nreturn a.name == NULL;", "context"),
    ("loop.create_connection(happy_eyeballs_delay=)", (3, 7), (3, 8),
     "aio_loop_create_connection_args a = {.happy_eyeballs_delay = 0.25};\n"
     "(void)p; return a.sock;",
     "aio_loop_create_connection_args a = aio_loop_create_connection_args();\n"
     "a.happy_eyeballs_delay = 0.25;\n(void)p; return a.sock;", "happy_eyeballs_delay"),
    ("asyncio.TaskGroup()", (3, 10), (3, 11),
     "(void)p; return aio_task_group_new() != NULL;", None, "aio_task_group_new"),
    ("Task.get_context()", (3, 11), (3, 12),
     "return aio_task_get_context((aio_task *)p) != NULL;", None, "aio_task_get_context"),
    ("asyncio.to_thread() (hand-written)", (3, 8), (3, 9),
     "return aio_to_thread(NULL, p) != NULL;", None, "aio_to_thread"),
    ("contextvars.Context() (hand-written)", (3, 6), (3, 7),
     "(void)p; return aio_context_new() != NULL;", None, "aio_context_new"),
    ("async with asyncio.timeout() (hand-written)", (3, 10), (3, 11),
     "return aio_timeout_enter((aio_timeout *)p);", None, "aio_timeout_enter"),
]

# A field the spec says CPython removed: used where the generated header
# hides it (reuse_address of create_datagram_endpoint, gone in 3.11).
REMOVED = ("loop.create_datagram_endpoint(reuse_address=)", "reuse_address",
           "aio_loop_create_datagram_endpoint_args",
           "aio_loop_create_datagram_endpoint_args a = {.reuse_address = AIO_FALSE};\n"
           "(void)p; return a.reuse_address;",
           "aio_loop_create_datagram_endpoint_args a = aio_loop_create_datagram_endpoint_args();\n"
           "a.reuse_address = AIO_FALSE;\n(void)p; return a.reuse_address;")


def level(v):
    return f"AIO_PY({v[0]}, {v[1]})"


def compile_(cc, lang, lvl, bodies, tmp, n):
    """Compiles (syntax only) one function per body at the level."""
    ext = "cpp" if lang == "c++" else "c"
    src = os.path.join(tmp, f"p{n}.{ext}")
    with open(src, "w") as f:
        f.write(f"#define AIO_API_LEVEL {lvl}\n#include <casyncio.h>\n")
        for i, body in enumerate(bodies):
            f.write(f"int f{i}(void *p);\nint f{i}(void *p)\n{{\n{body}\n}}\n")
    std = ["-std=c++11"] if lang == "c++" else ["-std=c11"]
    p = subprocess.run([cc, "-x", lang, *std, *WARN, *INC, "-fsyntax-only", src],
                       capture_output=True, text=True)
    return p.returncode == 0, p.stderr


def sizes_program(structs):
    lines = ["#include <stdio.h>", "#include <stddef.h>", "#include <casyncio.h>", "int main(void)",
             "{"]
    for s in structs:
        lines.append(f'    printf("{s} %zu %zu\\n", sizeof({s}), _Alignof({s}));')
    return "\n".join(lines + ["    return 0;", "}", ""])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cc", action="append", default=[])
    args = ap.parse_args()
    ccs = args.cc or [c for c in ("gcc", "clang") if shutil.which(c)]
    cxx = {"gcc": "g++", "clang": "clang++"}
    failures = []
    jobs = []
    with tempfile.TemporaryDirectory() as tmp:
        headers = glob.glob(os.path.join(ROOT, "generated/include/casyncio/*.h")) + \
            glob.glob(os.path.join(ROOT, "include/casyncio/*.h"))
        text = "".join(open(h, encoding="utf-8").read() for h in headers)
        cases = list(CASES)
        name, field, struct, body, cxxbody = REMOVED
        if f"aio__until_3_11_{field}" in text:
            cases.append((name, (3, 11), (3, 10), body, cxxbody, field))
        else:
            print(f"api-level: skipped {name}: the spec does not record its removal yet")
        with concurrent.futures.ThreadPoolExecutor(2) as pool:
            n = 0
            for cc in ccs:
                for lang in ("c", "c++"):
                    compiler = cc if lang == "c" else cxx.get(cc, cc)
                    if not shutil.which(compiler):
                        continue
                    allowed = {}
                    for i, (name, without, with_, cbody, cxxbody, says) in enumerate(cases):
                        body = cxxbody if lang == "c++" and cxxbody else cbody
                        if without is not None:
                            n += 1
                            jobs.append((pool.submit(compile_, compiler, lang, level(without),
                                                     [body], tmp, n),
                                         f"{compiler} {name} at {level(without)}", False, says))
                        if with_ is not None:
                            allowed.setdefault(with_, []).append((name, body))
                    # What a level has compiles: all of it in one program.
                    for v, uses in sorted(allowed.items()):
                        n += 1
                        names = ", ".join(u[0] for u in uses)
                        jobs.append((pool.submit(compile_, compiler, lang, level(v),
                                                 [u[1] for u in uses], tmp, n),
                                     f"{compiler} {names} at {level(v)}", True, ""))
            for fut, what, want, says in jobs:
                ok, err = fut.result()
                if ok != want:
                    failures.append(f"{what}: {'compiled' if ok else 'failed'}, expected "
                                    f"{'success' if want else 'an error'}\n{err}")
                elif not want and says not in err:
                    failures.append(f"{what}: the error does not name {says}:\n{err}")
        # The ABI: every argument struct, every level, same size and alignment.
        structs = sorted(set(re.findall(r"\}\s*(aio_\w+_args);", text)))
        pool2 = concurrent.futures.ThreadPoolExecutor(2)
        prog = os.path.join(tmp, "sizes.c")
        with open(prog, "w") as f:
            f.write(sizes_program(structs))
        for cc in ccs:
            exe = os.path.join(tmp, f"sizes-{cc}")
            p = subprocess.run([cc, "-std=c11", *WARN, *INC, prog, "-o", exe],
                               capture_output=True, text=True)
            if p.returncode != 0:
                failures.append(f"{cc} sizes: does not compile\n{p.stderr}")
                continue
            rows = [line.split() for line in
                    subprocess.run([exe], capture_output=True, text=True).stdout.splitlines()]
            asserts = [f"_Static_assert(sizeof({n}) == {size} && _Alignof({n}) == {align}, "
                       f"\"{n}\");" for n, size, align in rows]
            check = os.path.join(tmp, f"sizes-{cc}.c")
            with open(check, "w") as f:
                f.write("#include <casyncio.h>\n" + "\n".join(asserts) + "\n")
            futs = {minor: pool2.submit(subprocess.run,
                                        [cc, "-std=c11", *WARN, *INC, "-fsyntax-only",
                                         f"-DAIO_API_LEVEL=AIO_PY(3, {minor})", check],
                                        capture_output=True, text=True)
                    for minor in range(6, 14)}
            for minor, fut in futs.items():
                r = fut.result()
                if r.returncode != 0:
                    failures.append(f"{cc}: argument structs at 3.{minor} differ from the "
                                    f"default level's\n{r.stderr}")
        count = len(structs)
    for f in failures:
        print("api-level: FAIL:", f, file=sys.stderr)
    if failures:
        return 1
    print(f"api-level: {len(jobs)} programs as expected ({', '.join(ccs)}, C and C++); "
          f"{count} argument structs the same at every level")
    return 0


if __name__ == "__main__":
    sys.exit(main())
