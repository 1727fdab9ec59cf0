"""One Redis client per process and URL, for the code that talks to Redis directly (job
wake-ups, finished-job signals, channel limits). redis-py clients are thread-safe and their
pools start afresh in a forked child. The Django cache has its own: config/cache.py."""

import functools

import redis


@functools.lru_cache(maxsize=4)
def redis_client(url: str) -> redis.Redis:
    return redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
