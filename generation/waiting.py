"""Waiting for jobs to finish, for the sync surfaces (OpenAI- and Gemini-compatible).

A waiting request must not pin a thread: the views are async (uvicorn/ASGI) and wait here with
`asyncio.sleep`. Whoever ends a job calls `job_signal_finished` after its commit. With a shared
cache (Redis) the signal is a key the waiter checks cheaply, so the database is read once the job
is done plus a slow safety-net poll; without one (the embedded mode's local-memory cache is not
shared with the worker process) the waiter polls the database with a backoff.
"""

import asyncio
import time

from asgiref.sync import sync_to_async
from django.conf import settings
from django.core.cache import cache

from generation.models import TERMINAL_STATUSES, GenerationJob

_FIRST_DELAY = 0.05
_MAX_DELAY = 1.0  # between database polls
_MAX_SIGNAL_DELAY = 0.25  # between (cheap) shared-cache checks
_SAFETY_NET_SECONDS = 2.0  # with a shared cache, the database is still checked this often
_SIGNAL_TTL_SECONDS = 3600


def _signal_key(job_id) -> str:
    return f"atelier:job-finished:{job_id}"


def job_signal_finished(*, job_id) -> None:
    """Called after the commit that ended a job (succeeded, failed, blocked or canceled)."""
    cache.set(_signal_key(job_id), 1, timeout=_SIGNAL_TTL_SECONDS)


def _cache_is_shared() -> bool:
    return bool(settings.REDIS_URL)


def _unfinished(job_ids: list) -> set:
    return {str(job_id) for job_id in GenerationJob.objects.filter(pk__in=job_ids)
            .exclude(status__in=TERMINAL_STATUSES).values_list("pk", flat=True)}


def _signalled(job_ids: list) -> bool:
    return len(cache.get_many([_signal_key(job_id) for job_id in job_ids])) == len(job_ids)


async def jobs_wait(job_ids: list, *, timeout: float | None = None) -> bool:
    """Wait until every job is terminal. True when they are, False when `timeout` ran out."""
    deadline = time.monotonic() + (settings.SYNC_WAIT_SECONDS if timeout is None else timeout)
    pending = [str(job_id) for job_id in job_ids]
    delay = _FIRST_DELAY
    shared = _cache_is_shared()
    max_delay = _MAX_SIGNAL_DELAY if shared else _MAX_DELAY
    last_db_check = float("-inf")
    while True:
        now = time.monotonic()
        if not shared or now - last_db_check >= _SAFETY_NET_SECONDS \
                or await sync_to_async(_signalled)(pending):
            last_db_check = now
            pending = list(await sync_to_async(_unfinished)(pending))
            if not pending:
                return True
        if now >= deadline:
            return False
        await asyncio.sleep(min(delay, max(0.0, deadline - now)))
        delay = min(delay * 1.5, max_delay)
