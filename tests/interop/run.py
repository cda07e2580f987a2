#!/usr/bin/env python3
"""Interop tests: casyncio's TCP transports against other peers, both ways.

    python3 tests/interop/run.py [--peer build/tests/interop/echo_peer]
                                 [--mib 8] [--accept server|manual]
                                 [--connect create_connection|manual]
                                 [--skip uvloop|nc] [-v]

Each case moves a file of random bytes (--mib MiB) over loopback TCP and
checks it byte for byte:

  their client -> our server   CPython asyncio's and uvloop's streams client
                               (tests/interop/peer.py) against echo_peer's
                               echo server; `nc -N` (netcat-openbsd) too
  our client -> their server   echo_peer's client against asyncio's and
                               uvloop's echo servers, protocol and streams
                               style; against `nc -l` one way (what nc
                               writes out must be the file)
  our client -> our server     the same pair of casyncio programs

casyncio's side runs in each way it has to accept and to connect: by hand
(a listening socket with add_reader() and accept4(); connect(2); each
socket handed to connect_accepted_socket()) and with create_server() and
create_connection(). A peer that is not here (no interpreter imports
uvloop; no OpenBSD nc), or a method this build has not implemented yet,
makes its cases SKIP, saying why; any FAIL makes the exit status 1. No timing is
asserted; every process is bounded (60 s).
"""
import argparse
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
PEER_PY = os.path.join(HERE, "peer.py")
LIMIT = 60


def find_uvloop_python():
    for python in ("/usr/bin/python3", shutil.which("python3"), sys.executable):
        if not python or not os.path.exists(python):
            continue
        ok = subprocess.run([python, "-c", "import uvloop"], capture_output=True)
        if ok.returncode == 0:
            return python
    return None


def openbsd_nc():
    nc = shutil.which("nc")
    if nc is None:
        return None, "nc is not installed (netcat-openbsd)"
    out = subprocess.run([nc, "-h"], capture_output=True, text=True)
    if "-N" not in out.stdout + out.stderr:
        return None, f"{nc} is not OpenBSD netcat (no -N)"
    return nc, None


class NotInThisBuild(Exception):
    """The mode asked for uses a method this build has not implemented."""


class Server:
    """A server process that prints `LISTENING port=P ...` when ready."""

    def __init__(self, cmd):
        self.cmd = cmd
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     text=True)
        line = self.proc.stdout.readline()
        if not line.startswith("LISTENING "):
            self.stop()
            if "not implemented" in self.stderr:
                raise NotInThisBuild(self.stderr.strip())
            raise RuntimeError(f"{' '.join(cmd)} did not start: {(line + self.stderr).strip()}")
        fields = dict(kv.split("=", 1) for kv in line.split()[1:])
        self.port = int(fields["port"])
        self.accept = fields.get("accept")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            _, self.stderr = self.proc.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            _, self.stderr = self.proc.communicate()
        return self.proc.returncode


def run_client(cmd, **kw):
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=LIMIT, **kw)
    out = (proc.stdout + proc.stderr).strip()
    if proc.returncode != 0 and "NotImplementedError" in out:
        raise NotInThisBuild(out)
    return proc.returncode, out


def refused(out):
    return "Connection refused" in out or "ConnectionRefusedError" in out


class Context:
    """What every case needs, and the cases themselves: each returns
    (passed, detail)."""

    def __init__(self, args, data_path, data, tmp):
        self.args, self.data_path, self.data, self.tmp = args, data_path, data, tmp

    def our_server(self, accept):
        return Server([self.args.peer, "server", "--accept", accept])

    def our_client(self, port, connect, *more):
        return [self.args.peer, "client", str(port), self.data_path, *more, "--connect", connect]

    def their_client(self, python, label, accept):
        srv = self.our_server(accept)
        try:
            rc, out = run_client([python, PEER_PY] + (["--uvloop"] if label == "uvloop" else [])
                                 + ["client", str(srv.port), self.data_path])
        finally:
            src = srv.stop()
        detail = f"{out} (server accepts with {srv.accept})"
        if rc == 0 and src == 0:
            return True, detail
        return False, f"client exit {rc}, server exit {src}: {detail} {srv.stderr.strip()}"

    def nc_client(self, nc, accept):
        srv = self.our_server(accept)
        out_path = os.path.join(self.tmp, "nc-out")
        try:
            with open(self.data_path, "rb") as fin, open(out_path, "wb") as fout:
                proc = subprocess.run([nc, "-N", "127.0.0.1", str(srv.port)], stdin=fin,
                                      stdout=fout, stderr=subprocess.PIPE, timeout=LIMIT)
        finally:
            src = srv.stop()
        with open(out_path, "rb") as f:
            got = f.read()
        if proc.returncode == 0 and src == 0 and got == self.data:
            return True, f"{len(got)} bytes back (server accepts with {srv.accept})"
        return False, (f"nc exit {proc.returncode}, server exit {src}, {len(got)} of "
                       f"{len(self.data)} bytes back"
                       f"{', not the ones sent' if got != self.data[:len(got)] else ''}")

    def their_server(self, python, label, style, connect):
        srv = Server([python, PEER_PY] + (["--uvloop"] if label == "uvloop" else []) +
                     ["server", style])
        try:
            rc, out = run_client(self.our_client(srv.port, connect))
        finally:
            src = srv.stop()
        if rc == 0 and src == 0:
            return True, out
        return False, f"client exit {rc}, server exit {src}: {out} {srv.stderr.strip()}"

    def nc_server(self, nc, connect):
        with socket.socket() as s:  # a free port for nc (it cannot say which it took)
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        out_path = os.path.join(self.tmp, "nc-l-out")
        with open(out_path, "wb") as fout:
            ncp = subprocess.Popen([nc, "-d", "-l", "127.0.0.1", str(port)],
                                   stdout=fout, stderr=subprocess.PIPE)
            try:
                # Until nc listens (bounded): a refused connect is retried.
                rc, out = 1, "nc -l never listened"
                for _ in range(100):
                    rc, out = run_client(self.our_client(port, connect, "--no-echo"))
                    if not refused(out):
                        break
                    time.sleep(0.05)
                ncrc = ncp.wait(timeout=LIMIT)
            finally:
                if ncp.poll() is None:
                    ncp.kill()
                ncrc = ncp.wait()
        with open(out_path, "rb") as f:
            got = f.read()
        if rc == 0 and ncrc == 0 and got == self.data:
            return True, f"{out}; nc wrote {len(got)} bytes"
        return False, (f"client exit {rc} ({out}), nc exit {ncrc}, "
                       f"nc wrote {len(got)} of {len(self.data)} bytes")

    def ours_both(self):
        srv = self.our_server("auto")
        try:
            rc, out = run_client(self.our_client(srv.port, "auto"))
        finally:
            src = srv.stop()
        if rc == 0 and src == 0:
            return True, f"{out} (server accepts with {srv.accept})"
        return False, f"client exit {rc}, server exit {src}: {out} {srv.stderr.strip()}"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--peer", default=os.path.join(ROOT, "build/tests/interop/echo_peer"))
    parser.add_argument("--mib", type=int, default=8)
    parser.add_argument("--accept", action="append", choices=["server", "manual"],
                        help="how echo_peer's server accepts: create_server(), or by hand "
                             "(add_reader, accept4, connect_accepted_socket); default both")
    parser.add_argument("--connect", action="append", choices=["create_connection", "manual"],
                        help="how echo_peer's client connects: create_connection(), or "
                             "connect(2) and connect_accepted_socket(); default both")
    parser.add_argument("--skip", action="append", default=[], choices=["uvloop", "nc"],
                        help="act as if this peer were not installed (to see the skips)")
    parser.add_argument("-v", "--verbose", action="store_true")
    args = parser.parse_args()
    if not os.access(args.peer, os.X_OK):
        sys.exit(f"run.py: {args.peer} is missing (make check-interop builds it)")

    asyncio_python = shutil.which("python3") or sys.executable
    uvloop_python = None if "uvloop" in args.skip else find_uvloop_python()
    nc, nc_why = (None, "skipped (--skip nc)") if "nc" in args.skip else openbsd_nc()
    results = []

    def report(name, status, detail=""):
        results.append(status)
        line = f"{status} {name}"
        if detail and (status != "PASS" or args.verbose):
            line += f": {detail}"
        print(line, flush=True)

    with tempfile.TemporaryDirectory(prefix="casyncio-interop-") as tmp:
        data_path = os.path.join(tmp, "data")
        with open(data_path, "wb") as f:
            f.write(os.urandom(args.mib << 20))
        with open(data_path, "rb") as f:
            data = f.read()
        ctx = Context(args, data_path, data, tmp)
        accepts = args.accept or ["manual", "server"]
        connects = args.connect or ["manual", "create_connection"]
        accept_label = {"manual": "accepting by hand", "server": "create_server"}
        connect_label = {"manual": "connect_accepted_socket", "create_connection":
                         "create_connection"}
        no_uvloop = "no interpreter here imports uvloop"
        cases = []
        for accept in accepts:  # their client -> our server
            srv_name = f"casyncio server [{accept_label[accept]}]"
            for label, python in (("asyncio", asyncio_python), ("uvloop", uvloop_python)):
                cases.append((f"{label} client -> {srv_name}", None if python else no_uvloop,
                              lambda python=python, label=label, accept=accept:
                              ctx.their_client(python, label, accept)))
            cases.append((f"nc -N client -> {srv_name}", nc_why,
                           lambda accept=accept: ctx.nc_client(nc, accept)))
        for connect in connects:  # our client -> their server
            cl_name = f"casyncio client [{connect_label[connect]}]"
            for label, python in (("asyncio", asyncio_python), ("uvloop", uvloop_python)):
                for style in ("protocol", "streams"):
                    cases.append((f"{cl_name} -> {label} server ({style})",
                                  None if python else no_uvloop,
                                  lambda python=python, label=label, style=style,
                                  connect=connect: ctx.their_server(python, label, style,
                                                                    connect)))
            cases.append((f"{cl_name} -> nc -l (one way)", nc_why,
                          lambda connect=connect: ctx.nc_server(nc, connect)))
        # ours at both ends, each with the newest methods this build has
        cases.append(("casyncio client -> casyncio server", None, ctx.ours_both))

        for name, skip_why, run_case in cases:
            if skip_why:
                report(name, "SKIP", skip_why)
                continue
            try:
                ok, detail = run_case()
            except NotInThisBuild as exc:
                report(name, "SKIP", f"not in this build: {exc}")
                continue
            except (RuntimeError, OSError, subprocess.TimeoutExpired) as exc:
                ok, detail = False, str(exc)
            report(name, "PASS" if ok else "FAIL", detail)

    counts = {s: results.count(s) for s in ("PASS", "SKIP", "FAIL")}
    print(f"interop: {counts['PASS']} passed, {counts['SKIP']} skipped, {counts['FAIL']} failed")
    return 1 if counts["FAIL"] else 0


if __name__ == "__main__":
    sys.exit(main())
