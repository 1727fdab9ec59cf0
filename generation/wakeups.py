"""Waking a dispatch loop the moment a job is due, over Redis (REDIS_URL).

A django-q2 task starts a dispatch loop, but a worker busy in a loop does not read its task
queue, so without a wake-up a new job would wait for the loop's next poll. Submit pushes the job
id on a list after commit; a loop with free capacity pops it (BLPOP: each notice wakes exactly
one loop) and claims at once. A notice for a job that someone else claimed first costs one empty
claim.

Loops with room also keep a heartbeat (a sorted set scored by expiry). While one is alive, a new
job needs no django-q2 task of its own: that task would only wait in the queue and, once a worker
got to it, start a pass that finds nothing to do (several ms of worker CPU per job). A loop
withdraws its heartbeat before its last look for due jobs, so a job committed before that look is
seen by the loop and one committed after it finds no heartbeat and gets its task. A loop killed
outright stops counting when its heartbeat expires (HEARTBEAT_SECONDS). Without Redis every job
gets its task and the loops poll.
"""

import asyncio
import logging
import time
import uuid

import redis
import redis.asyncio
from django.conf import settings

from config.redis import redis_client

logger = logging.getLogger(__name__)

JOBS_DUE = "atelier:jobs-due"
LOOPS_WITH_ROOM = "atelier:dispatch-loops"
HEARTBEAT_SECONDS = 3.0
_BACKLOG = 10_000  # notices kept when no loop is popping (each is only a hint)
_TTL_SECONDS = 120


def job_due_notify(*, job_id) -> bool:
    """Called after the commit that queued a job: tell the loops. True when a loop with room is
    alive to take it (then the job needs no django-q2 task); False without Redis or on error."""
    if not settings.REDIS_URL:
        return False
    try:
        pipe = redis_client(settings.REDIS_URL).pipeline(transaction=False)
        pipe.rpush(JOBS_DUE, str(job_id)).ltrim(JOBS_DUE, -_BACKLOG, -1).expire(
            JOBS_DUE, _TTL_SECONDS)
        pipe.zcount(LOOPS_WITH_ROOM, time.time(), "+inf")
        return pipe.execute()[-1] > 0
    except redis.RedisError:
        logger.warning("could not announce job %s; its task starts a dispatch loop", job_id)
        return False


class DueListener:
    """A dispatch loop's side: `wait(timeout)` returns when a notice arrives (True) or the
    timeout passed (False); `heartbeat(has_room)` and `withdraw()` keep the loop counted while it
    has room. Without Redis it only sleeps."""

    def __init__(self):
        self._redis = (redis.asyncio.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=2)
                       if settings.REDIS_URL else None)
        self._name = uuid.uuid4().hex
        self._beat_until = 0.0  # when our last heartbeat expires; 0 when withdrawn

    async def heartbeat(self, *, has_room: bool) -> None:
        """Count this loop among those with room (refreshed well before it expires), or not."""
        if self._redis is None:
            return
        now = time.time()
        try:
            if not has_room:
                if self._beat_until:
                    await self.withdraw()
            elif self._beat_until - now < HEARTBEAT_SECONDS / 2:
                self._beat_until = now + HEARTBEAT_SECONDS
                pipe = self._redis.pipeline(transaction=False)
                pipe.zadd(LOOPS_WITH_ROOM, {self._name: self._beat_until})
                pipe.zremrangebyscore(LOOPS_WITH_ROOM, "-inf", now)  # loops that died
                pipe.expire(LOOPS_WITH_ROOM, int(HEARTBEAT_SECONDS * 10))
                await pipe.execute()
        except (redis.RedisError, OSError) as error:
            logger.warning("dispatch heartbeat failed (%s); jobs get their own tasks", error)

    async def withdraw(self) -> None:
        """Stop counting this loop: from now on new jobs get their own django-q2 task."""
        if self._redis is None or not self._beat_until:
            return
        self._beat_until = 0.0
        try:
            await self._redis.zrem(LOOPS_WITH_ROOM, self._name)
        except (redis.RedisError, OSError) as error:
            # Counted until the heartbeat expires; jobs queued meanwhile wait for the sweeper.
            logger.warning("could not withdraw a dispatch heartbeat (%s)", error)

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
            await self.withdraw()
            await self._redis.aclose()
