"""Worker processes are forked (django-q2): a child must not talk over its parent's database
socket."""

import os
import subprocess
import sys
from pathlib import Path

from django.db import connection

ROOT = Path(__file__).resolve().parents[2]


def _backend_pid() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return cursor.fetchone()[0]


def test_a_forked_child_opens_its_own_database_session(db):
    parent_session = _backend_pid()
    read, write = os.pipe()
    child = os.fork()
    if child == 0:  # the child: report its session, never return into pytest
        try:
            os.write(write, str(_backend_pid()).encode())
        finally:
            os._exit(0)
    os.close(write)
    os.waitpid(child, 0)
    child_session = int(os.read(read, 64) or b"0")
    os.close(read)

    assert child_session not in (0, parent_session)
    assert _backend_pid() == parent_session  # and the parent's session is intact


# A process with a connection pool (the web server's DATABASE_POOL_MAX, or an operator who sets
# it for every process) forks: the child must not take its parent's pooled connections.
_POOLED_FORK = """
import os, django
django.setup()
from django.db import connection

def session():
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return cursor.fetchone()[0]

parent = session()
connection.close()  # back into the pool, where a child would find it
read, write = os.pipe()
if os.fork() == 0:
    os.write(write, str(session()).encode())
    os._exit(0)
os.close(write)
os.wait()
print(parent, int(os.read(read, 64) or b"0"), session())
"""


def test_a_forked_child_of_a_pooled_process_opens_its_own_sessions(db):
    from tests.upstream.processes import database_url

    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings",
           "DATABASE_URL": database_url(), "DATABASE_POOL_MAX": "4"}
    run = subprocess.run([sys.executable, "-c", _POOLED_FORK], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    parent_before, child, parent_after = map(int, run.stdout.split())

    assert child not in (0, parent_before, parent_after)
