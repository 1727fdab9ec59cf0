"""Database connections across fork().

django-q2's sentinel touches the database before it forks the pusher, the monitor and the
workers (its ORM broker asks for the connection's autocommit state, which connects), and with
CONN_MAX_AGE > 0 Django's `close_old_connections` keeps a live connection. Every child would then
talk over the same socket as its parent and siblings: interleaved statements, and at worst a
session left "idle in transaction" holding locks forever. So a forked child forgets the
connections it inherited, without closing them (closing would end the parent's session too), and
opens its own on first use.
"""

import os

from django.db import connections

# The inherited driver connections, kept referenced so that the child never finalizes them (a
# finalizer would send the server a Terminate for the parent's session).
_inherited: list = []


def _forget_inherited_connections() -> None:
    for connection in connections.all(initialized_only=True):
        if connection.connection is not None:
            _inherited.append(connection.connection)
        connection.connection = None  # the parent still owns the socket; do not close it
        connection.in_atomic_block = False
        connection.savepoint_ids = []
        connection.needs_rollback = False
        connection.run_on_commit = []


def register() -> None:
    os.register_at_fork(after_in_child=_forget_inherited_connections)
