"""Waiting for jobs to finish, for the sync surfaces (OpenAI- and Gemini-compatible).

A waiting request must not pin a thread: the views are async (uvicorn/ASGI) and wait here with
asyncio. Whoever ends a job calls `job_signal_finished` after its commit.

- Redis mode (`REDIS_URL`): the signal is published on one Redis channel; each web process holds
  one subscription (a daemon thread) and wakes exactly the coroutines waiting for that job, which
  then read the job once. A slow database poll (every 2 s) is the safety net for a lost message.
- Embedded mode (no Redis; the worker is another process with nothing shared but the database):
  the waiter polls the job rows with a backoff.
"""

import asyncio
import contextlib
import functools
import logging
import threading
import time
import weakref
from collections import defaultdict

import redis
from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import connection

from generation.models import TERMINAL_STATUSES, GenerationJob

logger = logging.getLogger(__name__)

CHANNEL = "atelier:jobs-finished"
_FIRST_DELAY = 0.05
_MAX_DELAY = 1.0  # between database polls, embedded mode
_SAFETY_NET_SECONDS = 2.0  # Redis mode: the database is still read this often


@functools.lru_cache(maxsize=4)
def _publisher(url: str) -> redis.Redis:
    return redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)


def job_signal_finished(*, job_id) -> None:
    """Called after the commit that ended a job (succeeded, failed, blocked or canceled)."""
    if not settings.REDIS_URL:
        return  # nobody to tell: waiters poll the database
    try:
        _publisher(settings.REDIS_URL).publish(CHANNEL, str(job_id))
    except redis.RedisError:
        logger.warning("could not publish the end of job %s; waiters fall back to polling", job_id)


class _Listener:
    """One Redis subscription per process, on a daemon thread, fanned out to waiting coroutines.

    A thread rather than an asyncio task: it serves any event loop (uvicorn's, or the short-lived
    loops of async views run under WSGI) and is never cancelled halfway through a Redis call.
    """

    def __init__(self):
        self._lock = threading.Lock()
        self._threads: dict[str, threading.Thread] = {}
        self._waiters: dict[str, set[tuple[asyncio.AbstractEventLoop, asyncio.Event]]] = \
            defaultdict(set)

    def _ensure_running(self, url: str) -> None:
        with self._lock:
            thread = self._threads.get(url)
            if thread is None or not thread.is_alive():
                thread = threading.Thread(target=self._run, args=(url,), daemon=True,
                                          name="atelier-job-signals")
                self._threads[url] = thread
                thread.start()

    def _run(self, url: str) -> None:
        while True:
            try:
                pubsub = redis.Redis.from_url(url).pubsub(ignore_subscribe_messages=True)
                pubsub.subscribe(CHANNEL)
                for message in pubsub.listen():
                    if message.get("type") == "message":
                        self._wake(message["data"].decode())
            except (redis.RedisError, OSError) as error:
                with self._lock:
                    idle = not self._waiters
                if idle:
                    return  # nobody is waiting; the next waiter starts a fresh subscription
                # Meanwhile waiters fall back on their safety-net database reads.
                logger.warning("job-finished subscription lost (%s); reconnecting", error)
                time.sleep(1)

    def _wake(self, job_id: str) -> None:
        with self._lock:
            targets = list(self._waiters.get(job_id, ()))
        for loop, event in targets:
            with contextlib.suppress(RuntimeError):  # that loop has closed: nobody to wake
                loop.call_soon_threadsafe(event.set)

    @contextlib.contextmanager
    def watching(self, job_ids: list[str], url: str):
        self._ensure_running(url)
        entry = (asyncio.get_running_loop(), asyncio.Event())
        with self._lock:
            for job_id in job_ids:
                self._waiters[job_id].add(entry)
        try:
            yield entry[1]
        finally:
            with self._lock:
                for job_id in job_ids:
                    waiters = self._waiters.get(job_id)
                    if waiters is not None:
                        waiters.discard(entry)
                        if not waiters:
                            del self._waiters[job_id]


_listener = _Listener()

# One semaphore per event loop (uvicorn runs one per process; the test client one per request).
_db_slots: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore]" = \
    weakref.WeakKeyDictionary()


def _then_release_connection(function, args, kwargs):
    try:
        return function(*args, **kwargs)
    finally:
        if not connection.in_atomic_block:  # an outer transaction (a test's) keeps its connection
            connection.close()


async def db_call(function, /, *args, **kwargs):
    """Run a database-touching function for a sync-surface request, on the request's thread.

    Under ASGI each request has its own thread and therefore its own database connection, kept
    until the request ends; a sync request lasts as long as its upstream call (seconds), so
    hundreds of waiting requests would hold hundreds of idle connections (PostgreSQL refuses
    clients past max_connections). So the connection is released after each call, and at most
    SYNC_DB_CONCURRENCY calls per process touch the database at once; the others queue here
    (measured in `bench/sync_surfaces.py`).
    """
    loop = asyncio.get_running_loop()
    slots = _db_slots.get(loop)
    if slots is None:
        slots = _db_slots[loop] = asyncio.Semaphore(settings.SYNC_DB_CONCURRENCY)
    async with slots:
        return await sync_to_async(_then_release_connection)(function, args, kwargs)


def _unfinished(job_ids: list[str]) -> list[str]:
    return [str(job_id) for job_id in GenerationJob.objects.filter(pk__in=job_ids)
            .exclude(status__in=TERMINAL_STATUSES).values_list("pk", flat=True)]


async def jobs_wait(job_ids: list, *, timeout: float | None = None) -> bool:
    """Wait until every job is terminal. True when they are, False when `timeout` ran out."""
    deadline = time.monotonic() + (settings.SYNC_WAIT_SECONDS if timeout is None else timeout)
    pending = [str(job_id) for job_id in job_ids]
    if settings.REDIS_URL:
        return await _wait_notified(pending, deadline, settings.REDIS_URL)
    return await _wait_polling(pending, deadline)


async def _wait_notified(pending: list[str], deadline: float, url: str) -> bool:
    with _listener.watching(pending, url) as finished:
        while True:
            finished.clear()  # before reading: a signal arriving during the read is kept
            pending = await db_call(_unfinished, pending)
            if not pending:
                return True
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(finished.wait(), timeout=min(_SAFETY_NET_SECONDS, remaining))


async def _wait_polling(pending: list[str], deadline: float) -> bool:
    delay = _FIRST_DELAY
    while True:
        pending = await db_call(_unfinished, pending)
        if not pending:
            return True
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return False
        await asyncio.sleep(min(delay, remaining))
        delay = min(delay * 1.5, _MAX_DELAY)
