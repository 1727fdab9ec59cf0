"""Channel limits in Redis, when REDIS_URL is set: one atomic script checks and takes a slot
against both limits, so every worker on every machine shares them without a database lock.

Keys per channel: a sorted set of calls in flight (score = when the slot expires, so a worker
killed mid-call frees its slot by itself) and one of calls started in the last minute
(score = start). Time is Redis's own clock, the same for every machine.
"""

import redis
from django.conf import settings

from config.redis import redis_client

_TAKE = """
local now_parts = redis.call('TIME')
local now = tonumber(now_parts[1]) + tonumber(now_parts[2]) / 1000000
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now - 60)
local concurrency, rpm = tonumber(ARGV[1]), tonumber(ARGV[2])
if concurrency >= 0 and redis.call('ZCARD', KEYS[1]) >= concurrency then
  return '0.5'
end
if rpm >= 0 and redis.call('ZCARD', KEYS[2]) >= rpm then
  local oldest = redis.call('ZRANGE', KEYS[2], 0, 0, 'WITHSCORES')
  return tostring(math.max(0.5, tonumber(oldest[2]) + 60 - now))
end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[4]), ARGV[3])
redis.call('ZADD', KEYS[2], now, ARGV[3])
redis.call('EXPIRE', KEYS[1], 3600)
redis.call('EXPIRE', KEYS[2], 120)
return '0'
"""

def enabled() -> bool:
    return bool(settings.REDIS_URL)


def _client() -> redis.Redis:
    return redis_client(settings.REDIS_URL)


def _keys(channel_id: int) -> list[str]:
    prefix = f"atelier:channel:{channel_id}"
    return [f"{prefix}:in_flight", f"{prefix}:started"]


def slot_take(*, channel, token: str) -> float:
    """0.0 when a slot was taken for `token`, else seconds until one may free up."""
    wait = _client().eval(_TAKE, 2, *_keys(channel.pk),
                          -1 if channel.concurrency_limit is None else channel.concurrency_limit,
                          -1 if channel.rpm_limit is None else channel.rpm_limit,
                          token, channel.timeout_seconds + 5)
    return float(wait)


def slot_release(*, channel_id: int, token: str) -> None:
    """The call ended: free its concurrency slot (it still counts for the minute)."""
    _client().zrem(_keys(channel_id)[0], token)
