"""Database connections across fork().

django-q2's sentinel touches the database before it forks the pusher, the monitor and the
workers (its ORM broker asks for the connection's autocommit state, which connects), and with
CONN_MAX_AGE > 0 Django's `close_old_connections` keeps a live connection. With a connection
pool (DATABASE_POOL_MAX) the pool itself holds open connections, and it is shared by the whole
process. Every child would then talk over the same sockets as its parent and siblings:
interleaved statements ("unexpected result ... from command 'BEGIN'"), and at worst a session
left "idle in transaction" holding locks forever. So a forked child forgets the connections and
the pools it inherited, without closing them (closing would end the parent's sessions too), and
opens its own on first use.

A forked child also freezes what it inherited (`gc.freeze()`): the modules, models and settings
of a set-up Django are hundreds of thousands of objects that will never be garbage, and the
collector's full passes traversed all of them; under load each pass stopped a worker's event
loop, with every call it runs, for 100-290 ms. The web server does the same once its
application is loaded (config/asgi.py).
"""

import gc
import os
import sys

from django.db import connections

# The inherited driver connections and pools, kept referenced so that the child never finalizes
# them (a finalizer would send the server a Terminate for the parent's session).
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
    # Pools are per process, not per thread: Django keeps them on the backend's class.
    postgresql = sys.modules.get("django.db.backends.postgresql.base")
    if postgresql is not None:
        pools = postgresql.DatabaseWrapper._connection_pools
        _inherited.extend(pools.values())
        pools.clear()  # the next connection builds this process's own pool


def _after_fork_in_child() -> None:
    _forget_inherited_connections()
    gc.freeze()


def register() -> None:
    os.register_at_fork(after_in_child=_after_fork_in_child)
