"""The Redis cache backend, with one Redis client per process instead of one per thread.

Django builds a cache object per thread, and under ASGI every request runs its sync code on a
thread of its own; each of those objects opened its own connection pool, so every request paid
for a new Redis connection (and redis-py's per-connection driver-info lookup, which reads
package metadata): about a fifth of a sync request's web CPU in a profile. redis-py's pools are
thread-safe and start afresh in a forked child, so one client per process and location serves
every thread.
"""

import threading

from django.core.cache.backends.redis import RedisCache

_clients: dict = {}
_lock = threading.Lock()


class SharedRedisCache(RedisCache):
    @property
    def _cache(self):
        key = (tuple(self._servers), repr(sorted(self._options.items())))
        client = _clients.get(key)
        if client is None:
            with _lock:
                client = _clients.setdefault(key, self._class(self._servers, **self._options))
        return client
