"""Waking a dispatch loop the moment a job is due, over Redis (REDIS_URL).

Every queued job also has its django-q2 task, which starts a dispatch loop where none runs; but a
worker busy in a loop does not read its task queue, so without a wake-up a new job would wait for
the loop's next poll. Submit pushes the job id on a list after commit; a loop with free capacity
pops it (BLPOP: each notice wakes exactly one loop) and claims at once. A notice for a job that
someone else claimed first costs one empty claim. Without Redis the loops poll.
"""

import asyncio
import functools
import logging

import redis
import redis.asyncio
from django.conf import settings

logger = logging.getLogger(__name__)

JOBS_DUE = "atelier:jobs-due"
_BACKLOG = 10_000  # notices kept when no loop is popping (each is only a hint)
_TTL_SECONDS = 120


@functools.lru_cache(maxsize=4)
def _client(url: str) -> redis.Redis:
    return redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)


def job_due_notify(*, job_id) -> None:
    """Called after the commit that queued a job. Best effort: the loops also poll."""
    if not settings.REDIS_URL:
        return
    try:
        pipe = _client(settings.REDIS_URL).pipeline(transaction=False)
        pipe.rpush(JOBS_DUE, str(job_id)).ltrim(JOBS_DUE, -_BACKLOG, -1).expire(
            JOBS_DUE, _TTL_SECONDS)
        pipe.execute()
    except redis.RedisError:
        logger.warning("could not announce job %s; a dispatch loop will find it by polling", job_id)


class DueListener:
    """A dispatch loop's side of the list: `wait(timeout)` returns when a notice arrives (True)
    or the timeout passed (False). Without Redis it only sleeps."""

    def __init__(self):
        self._redis = (redis.asyncio.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=2)
                       if settings.REDIS_URL else None)

    @property
    def notified(self) -> bool:
        """Whether every queued job wakes a loop (else loops only poll)."""
        return self._redis is not None

    async def wait(self, timeout: float) -> bool:
        if self._redis is None:
            await asyncio.sleep(timeout)
            return False
        try:
            # BLPOP's timeout is in whole or fractional seconds (Redis >= 6); 0 would block forever.
            return await self._redis.blpop([JOBS_DUE], timeout=max(0.01, timeout)) is not None
        except (redis.RedisError, OSError) as error:
            logger.warning("jobs-due list unavailable (%s); polling", error)
            await asyncio.sleep(timeout)
            return False

    async def close(self) -> None:
        if self._redis is not None:
            await self._redis.aclose()
