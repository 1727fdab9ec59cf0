"""Worker processes are forked (django-q2): a child must not talk over its parent's database
socket."""

import os

from django.db import connection


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
