#!/usr/bin/env python3
"""Run a command against a throwaway PostgreSQL server, then tear the server down.

    python scripts/with_postgres.py -- pytest -q

Starts `postgres` from the machine's server binaries (installing Debian's `postgresql` package
with apt-get when they are missing) in a temporary directory, on a free loopback port, as an
unprivileged user when run as root (initdb refuses root). The command gets DATABASE_URL.
Durability is switched off: this server holds only test data.
"""

import glob
import os
import shutil
import socket
import subprocess
import sys
import tempfile


def _bin_dir() -> str:
    found = shutil.which("pg_ctl")
    if found:
        return os.path.dirname(os.path.realpath(found))
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
    if not candidates and os.geteuid() == 0:
        print("PostgreSQL server binaries missing; installing Debian's postgresql.", flush=True)
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(["apt-get", "update", "-qq"], check=True, env=env)
        subprocess.run(["apt-get", "install", "-y", "-qq", "postgresql"], check=True, env=env)
        candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
    if not candidates:
        sys.exit("PostgreSQL server binaries (pg_ctl) not found; install postgresql.")
    return os.path.dirname(candidates[-1])


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class TemporaryPostgres:
    def __init__(self):
        self.bin = _bin_dir()
        self.root = tempfile.mkdtemp(prefix="atelier-pg-")
        self.data = os.path.join(self.root, "data")
        self.port = _free_port()
        self.as_user = {}
        if os.geteuid() == 0:
            shutil.chown(self.root, "nobody", "nogroup")
            self.as_user = {"user": "nobody", "group": "nogroup", "extra_groups": []}

    def _run(self, *args, **kwargs):
        return subprocess.run([os.path.join(self.bin, args[0]), *args[1:]], check=True,
                              cwd=self.root, **self.as_user, **kwargs)

    @property
    def url(self) -> str:
        return f"postgres://atelier@127.0.0.1:{self.port}/atelier"

    def start(self) -> None:
        self._run("initdb", "-D", self.data, "-U", "atelier", "--auth=trust", "-E", "UTF8",
                  "--no-sync", stdout=subprocess.DEVNULL)
        options = (f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 "
                   "-c fsync=off -c synchronous_commit=off -c full_page_writes=off "
                   "-c max_connections=300 -c shared_buffers=128MB "
                   # A session left idle in a transaction is ended instead of blocking the
                   # next test database flush forever (the cause of the sessions once seen
                   # there, forked workers sharing pooled sockets, is fixed: config/forking.py).
                   "-c idle_in_transaction_session_timeout=120s")
        self._run("pg_ctl", "-D", self.data, "-o", options, "-l",
                  os.path.join(self.root, "server.log"), "-w", "-t", "60", "start",
                  stdout=subprocess.DEVNULL)
        self._run("createdb", "-h", "127.0.0.1", "-p", str(self.port), "-U", "atelier",
                  "atelier")

    def stop(self) -> None:
        try:
            self._run("pg_ctl", "-D", self.data, "-m", "fast", "-w", "stop",
                      stdout=subprocess.DEVNULL)
        finally:
            shutil.rmtree(self.root, ignore_errors=True)


def main(argv: list[str]) -> int:
    if "--" in argv:
        argv = argv[argv.index("--") + 1:]
    if not argv:
        sys.exit("usage: with_postgres.py -- COMMAND [ARGS...]")
    server = TemporaryPostgres()
    server.start()
    try:
        print(f"PostgreSQL running at {server.url}", flush=True)
        return subprocess.run(argv, env={**os.environ, "DATABASE_URL": server.url}).returncode
    finally:
        server.stop()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
