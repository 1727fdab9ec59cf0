"""Waiting for jobs to finish, for the sync surfaces (OpenAI- and Gemini-compatible).

A waiting request must not pin a thread: the views are async (uvicorn/ASGI) and wait here with
asyncio. Whoever ends a job calls `job_signal_finished` after its commit.

- Redis mode (`REDIS_URL`): the signal is published on one Redis channel; each web process holds
  one subscription (a daemon thread) and wakes exactly the coroutines waiting for that job. A
  slow database poll (every 2 s) is the safety net for a lost message.
- Embedded mode (no Redis; the worker is another process with nothing shared but the database):
  the database poll is the only signal, every 0.2 s.

The poll is one query per process and event loop for all the jobs its requests wait for, not one
per request: 500 waiting requests cost one query per interval, not 500.
"""

import asyncio
import contextlib
import contextvars
import logging
import threading
import time
import weakref
from collections import defaultdict

import redis
from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import connection

from config.redis import redis_client
from generation.models import TERMINAL_STATUSES, GenerationJob

logger = logging.getLogger(__name__)

CHANNEL = "atelier:jobs-finished"
_POLL_SECONDS = 0.2  # embedded mode: the database poll is the signal
_SAFETY_NET_SECONDS = 2.0  # Redis mode: the database is still read this often


def job_signal_finished(*, job_id) -> None:
    """Called after the commit that ended a job (succeeded, failed, blocked or canceled)."""
    if not settings.REDIS_URL:
        return  # nobody to tell: waiters poll the database
    try:
        redis_client(settings.REDIS_URL).publish(CHANNEL, str(job_id))
    except redis.RedisError:
        logger.warning("could not publish the end of job %s; waiters fall back to polling", job_id)


class _Waiter:
    """One request waiting for its jobs: `done` is set (on its loop) when `pending` empties."""

    __slots__ = ("loop", "done", "pending")

    def __init__(self, job_ids: list[str]):
        self.loop = asyncio.get_running_loop()
        self.done = asyncio.Event()
        self.pending = set(job_ids)


class _Registry:
    """The waiters of this process by job id, woken by the Redis subscription (a daemon thread:
    it serves any event loop, uvicorn's or the short-lived loops of async views under WSGI, and is
    never cancelled halfway through a Redis call) and by one database poll per event loop."""

    def __init__(self):
        self._lock = threading.Lock()
        self._threads: dict[str, threading.Thread] = {}
        self._by_job: dict[str, set[_Waiter]] = defaultdict(set)
        self._pollers: dict[asyncio.AbstractEventLoop, tuple[asyncio.Task, int]] = {}

    def add(self, waiter: _Waiter) -> None:
        if settings.REDIS_URL:
            self._ensure_subscribed(settings.REDIS_URL)
        with self._lock:
            for job_id in waiter.pending:
                self._by_job[job_id].add(waiter)
            task, count = self._pollers.get(waiter.loop, (None, 0))
            if task is None:
                interval = _SAFETY_NET_SECONDS if settings.REDIS_URL else _POLL_SECONDS
                # A fresh context: the poll outlives the request that started it.
                task = waiter.loop.create_task(self._poll(waiter.loop, interval),
                                               context=contextvars.Context())
            self._pollers[waiter.loop] = (task, count + 1)

    def remove(self, waiter: _Waiter) -> None:
        with self._lock:
            for job_id in waiter.pending:
                waiters = self._by_job.get(job_id)
                if waiters is not None:
                    waiters.discard(waiter)
                    if not waiters:
                        del self._by_job[job_id]
            task, count = self._pollers[waiter.loop]
            if count > 1:
                self._pollers[waiter.loop] = (task, count - 1)
                return
            del self._pollers[waiter.loop]
        task.cancel()  # nobody left on this loop

    def finished(self, job_ids) -> None:
        """These jobs ended: wake each waiter whose last pending job this was. Any thread."""
        woken = []
        with self._lock:
            for job_id in job_ids:
                for waiter in self._by_job.pop(job_id, ()):
                    waiter.pending.discard(job_id)
                    if not waiter.pending:
                        woken.append(waiter)
        for waiter in woken:
            with contextlib.suppress(RuntimeError):  # that loop has closed: nobody to wake
                waiter.loop.call_soon_threadsafe(waiter.done.set)

    def _pending_on(self, loop) -> list[str]:
        with self._lock:
            return [job_id for job_id, waiters in self._by_job.items()
                    if any(waiter.loop is loop for waiter in waiters)]

    async def _poll(self, loop, interval: float) -> None:
        while True:
            await asyncio.sleep(interval)
            job_ids = self._pending_on(loop)
            if not job_ids:
                continue
            try:
                ended = await sync_to_async(_then_release_connection, thread_sensitive=False)(
                    _finished_among, (job_ids,), {})
            except Exception:  # noqa: BLE001 - a failed poll is retried at the next interval
                logger.exception("polling waited-for jobs failed")
                continue
            self.finished(ended)

    def _ensure_subscribed(self, url: str) -> None:
        with self._lock:
            thread = self._threads.get(url)
            if thread is None or not thread.is_alive():
                thread = threading.Thread(target=self._subscribe, args=(url,), daemon=True,
                                          name="atelier-job-signals")
                self._threads[url] = thread
                thread.start()

    def _subscribe(self, url: str) -> None:
        while True:
            try:
                pubsub = redis.Redis.from_url(url).pubsub(ignore_subscribe_messages=True)
                pubsub.subscribe(CHANNEL)
                for message in pubsub.listen():
                    if message.get("type") == "message":
                        self.finished([message["data"].decode()])
            except (redis.RedisError, OSError) as error:
                with self._lock:
                    idle = not self._by_job
                if idle:
                    return  # nobody is waiting; the next waiter starts a fresh subscription
                # Meanwhile waiters fall back on the database poll.
                logger.warning("job-finished subscription lost (%s); reconnecting", error)
                time.sleep(1)


_registry = _Registry()

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


def _finished_among(job_ids: list[str]) -> list[str]:
    """Ended jobs among `job_ids`; a row this connection cannot see counts as not ended."""
    return [str(job_id) for job_id in GenerationJob.objects.filter(
        pk__in=job_ids, status__in=TERMINAL_STATUSES).values_list("pk", flat=True)]


async def jobs_wait(job_ids: list, *, timeout: float | None = None,
                    just_queued: bool = False) -> bool:
    """Wait until every job is terminal. True when they are, False when `timeout` ran out.

    `just_queued`: the caller committed these jobs a moment ago, so they cannot have ended yet
    and the first read is skipped (one query per sync request). Should one end in that moment
    anyway, before we listen, the next database poll still sees it."""
    deadline = time.monotonic() + (settings.SYNC_WAIT_SECONDS if timeout is None else timeout)
    waiter = _Waiter([str(job_id) for job_id in job_ids])
    _registry.add(waiter)  # before reading: a job ending during the read still wakes us
    try:
        if not just_queued:
            unfinished = set(await db_call(_unfinished, list(waiter.pending)))
            _registry.finished(waiter.pending - unfinished)
            if not unfinished:
                return True
        remaining = deadline - time.monotonic()
        if remaining > 0:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(waiter.done.wait(), timeout=remaining)
        return not waiter.pending
    finally:
        _registry.remove(waiter)
