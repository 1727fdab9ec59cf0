"""The Redis cache backend, with one Redis client per process instead of one per thread.

Django builds a cache object per thread, and under ASGI every request runs its sync code on a
thread of its own; each of those objects opened its own connection pool, so every request paid
for a new Redis connection (and redis-py's per-connection driver-info lookup, which reads
package metadata): about a fifth of a sync request's web CPU in a profile. redis-py's pools are
thread-safe and start afresh in a forked child, so one client per process and location serves
every thread. And the stock client builds a redis-py `Redis` object for every cache call
(about 1 ms of CPU each: it fills a table of ~170 response callbacks), where one per pool does.
"""

import threading

from django.core.cache.backends.redis import RedisCache, RedisCacheClient

_clients: dict = {}
_lock = threading.Lock()


class _ReusingClient(RedisCacheClient):
    """Django's Redis cache client, keeping one redis-py client per connection pool."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._clients = {}

    def get_client(self, key=None, *, write=False):
        index = self._get_connection_pool_index(write)
        client = self._clients.get(index)
        if client is None:
            client = self._clients.setdefault(
                index, self._client(connection_pool=self._get_connection_pool(write)))
        return client


class SharedRedisCache(RedisCache):
    def __init__(self, server, params):
        super().__init__(server, params)
        self._class = _ReusingClient

    @property
    def _cache(self):
        key = (tuple(self._servers), repr(sorted(self._options.items())))
        client = _clients.get(key)
        if client is None:
            with _lock:
                client = _clients.setdefault(key, self._class(self._servers, **self._options))
        return client
