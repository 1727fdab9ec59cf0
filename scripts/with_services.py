#!/usr/bin/env python3
"""Run a command against throwaway PostgreSQL and Redis servers, then tear both down.

    python scripts/with_services.py -- pytest -q

PostgreSQL as in `with_postgres.py` (exported as DATABASE_URL). Redis: `redis-server` (Debian's
`redis-server` package is installed with apt-get when missing) on a free loopback port in a
temporary directory, without persistence, exported as TEST_REDIS_URL — not REDIS_URL, so the
default suite stays on the ORM broker and only the tests that ask for Redis use it.
"""

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from with_postgres import TemporaryPostgres, _free_port  # noqa: E402


def _redis_binary() -> str:
    found = shutil.which("redis-server")
    if not found and os.geteuid() == 0:
        print("redis-server missing; installing Debian's redis-server.", flush=True)
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(["apt-get", "update", "-qq"], check=True, env=env)
        subprocess.run(["apt-get", "install", "-y", "-qq", "redis-server"], check=True, env=env)
        found = shutil.which("redis-server")
    if not found:
        sys.exit("redis-server not found; install redis-server.")
    return found


class TemporaryRedis:
    def __init__(self):
        self.binary = _redis_binary()
        self.root = tempfile.mkdtemp(prefix="atelier-redis-")
        self.port = _free_port()
        self.process = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--dir", self.root,
             "--save", "", "--appendonly", "no", "--daemonize", "no", "--loglevel", "warning"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as sock:
                    sock.sendall(b"PING\r\n")
                    if sock.recv(16).startswith(b"+PONG"):
                        return
            except OSError:
                time.sleep(0.05)
        self.stop()
        sys.exit("redis-server did not start")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
        shutil.rmtree(self.root, ignore_errors=True)


def main(argv: list[str]) -> int:
    if "--" in argv:
        argv = argv[argv.index("--") + 1:]
    if not argv:
        sys.exit("usage: with_services.py -- COMMAND [ARGS...]")
    postgres, redis = TemporaryPostgres(), TemporaryRedis()
    postgres.start()
    try:
        redis.start()
        print(f"PostgreSQL at {postgres.url}, Redis at {redis.url}", flush=True)
        env = {**os.environ, "DATABASE_URL": postgres.url, "TEST_REDIS_URL": redis.url}
        return subprocess.run(argv, env=env).returncode
    finally:
        redis.stop()
        postgres.stop()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
