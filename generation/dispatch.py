"""The worker's engine: one django-q2 task runs many upstream calls at once.

A django-q2 worker process runs one task at a time, and an image call waits 3-12 s on the
upstream. So `dispatch_due_jobs` (the body of every `run_job` / `dispatch_jobs` task) claims a
batch of due jobs and runs them concurrently on one asyncio loop with one shared set of httpx
clients (`UpstreamClients`), topping the batch up as calls finish, until nothing is due. Each worker
process thus holds up to WORKER_CONCURRENCY calls in flight.

Database work stays synchronous and on the worker's own thread (`sync_to_async` with
thread_sensitive=True under `async_to_sync`): one connection per process, the same services
and transactions as everywhere else, and short compared with the upstream wait. Being serial
per process, it is kept small per job (see `WorkerPass`): the claim loads what the run and the
settlement read, and what hardly changes is read once a second per pass, not once per job.

Retries never sleep in a worker: a retried job goes back to `queued` with `next_attempt_at`;
this loop lingers for retries due within RETRY_LINGER_SECONDS, later ones are picked up by the
next dispatch (any new job's task, or the sweeper's once a minute).
"""

import asyncio
import functools
import itertools
import logging
import random
import ssl
import time

import httpx
from asgiref.sync import async_to_sync, sync_to_async
from django.conf import settings

from config.queue import enqueue
from generation import channels, services
from generation.models import GenerationJob, JobStatus
from generation.providers.base import (
    AuthenticationFailed,
    ProviderError,
    RateLimited,
    SafetyBlocked,
    Unavailable,
)
from generation.wakeups import DueListener

logger = logging.getLogger(__name__)

RETRY_LINGER_SECONDS = 10.0  # wait in-loop for retries due this soon; later ones are requeued
# How often a busy loop looks for due jobs without being told: retries falling due, and every
# new job when there is no Redis (with Redis, generation.wakeups tells the loop at once).
CLAIM_POLL_SECONDS = 0.25
NOTIFIED_POLL_SECONDS = 1.0  # the same, when every new job wakes a loop (Redis)
# Jobs one claim takes at most when loops are woken per job (Redis): a burst is shared among the
# worker processes (each settles on its own database connection, one job after another) instead
# of landing on the first to wake; every job's notice wakes a loop to take it.
CLAIM_BATCH = 16
# A loop this full asks once for another loop (a dispatch task for an idle worker process)
# ahead of need, again after it has drained below half of that. Starting a pass takes a few
# hundred milliseconds under load, and until a loop has started, new jobs wait: when loops
# only asked on filling up, claims stalled 300-450 ms each time one did (Redis mode).
REINFORCE_AT = 0.5
RUN_BUDGET_SECONDS = 300.0  # stop claiming after this; well inside the django-q2 task timeout
BACKOFF_CAP_SECONDS = 120.0


def _db(function):
    return sync_to_async(function, thread_sensitive=True)


class WorkerPass:
    """What one dispatch pass keeps between its jobs: a provider client per channel version, the
    enabled channels (Redis mode; see `channels.ChannelSnapshot`) and which organizations have a
    webhook endpoint, each read at most once per `max_age` seconds. Used on the worker's
    database thread only."""

    def __init__(self, max_age: float = 1.0):
        self.providers: dict = {}
        self.channels = channels.ChannelSnapshot(max_age=max_age)
        self.max_age = max_age
        self._listening: set = set()
        self._listening_read_at: float | None = None
        self.finished: list[tuple[tuple, asyncio.Future]] = []  # calls waiting to be settled
        self.settler: asyncio.Task | None = None

    def may_have_listeners(self, organization_id) -> bool:
        """False when no enabled webhook endpoint of the organization existed a moment ago.
        An endpoint created meanwhile hears of jobs settled from about a second later on."""
        from generation.webhooks.selectors import organizations_listening

        now = time.monotonic()
        if self._listening_read_at is None or now - self._listening_read_at > self.max_age:
            self._listening = organizations_listening()
            self._listening_read_at = now
        return organization_id in self._listening


@functools.cache
def _tls_context() -> ssl.SSLContext:
    """httpx's default TLS context, built once per process: each client built its own (the CA
    bundle loaded each time), and a pass's 19 clients took 420 ms to start."""
    return httpx.create_ssl_context()


class UpstreamClients:
    """The pass's HTTP clients, used by the providers like one httpx.AsyncClient (`post`, `get`).

    Calls are shared round-robin among clients of SHARD_CONNECTIONS connections each: httpcore's
    pool looks through all of a client's connections and waiting requests whenever a request
    starts or ends, so one client with 150 calls in flight spent most of the worker's CPU there
    (yappi: 7.3 of 12 CPU-seconds for 300 calls)."""

    SHARD_CONNECTIONS = 8

    def __init__(self, *, capacity: int, timeout: float = 120):
        shards = max(1, -(-capacity // self.SHARD_CONNECTIONS))
        limits = httpx.Limits(max_connections=self.SHARD_CONNECTIONS * 2,
                              max_keepalive_connections=self.SHARD_CONNECTIONS)
        self._clients = [httpx.AsyncClient(limits=limits, timeout=timeout, verify=_tls_context())
                         for _ in range(shards)]
        self._turn = itertools.cycle(self._clients)

    async def post(self, *args, **kwargs) -> httpx.Response:
        return await next(self._turn).post(*args, **kwargs)

    async def get(self, *args, **kwargs) -> httpx.Response:
        return await next(self._turn).get(*args, **kwargs)

    async def __aenter__(self) -> "UpstreamClients":
        return self

    async def __aexit__(self, *exc_info) -> None:
        for client in self._clients:
            await client.aclose()


def backoff_delay(attempt: int, error: ProviderError) -> float:
    """429: the upstream's RetryInfo delay (fractions kept) plus a little jitter; other retryable
    errors: exponential backoff with full jitter around the base."""
    retry_after = getattr(error, "retry_after", None)
    if isinstance(error, RateLimited) and retry_after:
        return retry_after * random.uniform(1.0, 1.1)
    base = settings.RETRY_BACKOFF_BASE_MS / 1000
    return min(BACKOFF_CAP_SECONDS, base * 2 ** (attempt - 1)) * random.uniform(0.5, 1.5)


def dispatch_due_jobs() -> int:
    """Run every due job to an end or a requeue; returns how many jobs this call handled."""
    return async_to_sync(_dispatch)()


async def _dispatch() -> int:
    loop = asyncio.get_running_loop()
    stop_claiming_at = loop.time() + RUN_BUDGET_SECONDS
    capacity = settings.WORKER_CONCURRENCY
    running: set[asyncio.Task] = set()
    handled = 0
    state = WorkerPass()  # this pass's caches and its settlement queue
    await _db(channels.channel_ensure_default_once)()
    listener = DueListener()
    poll = NOTIFIED_POLL_SECONDS if listener.notified else CLAIM_POLL_SECONDS
    wake: asyncio.Task | None = None
    claim = True
    reinforced = False
    try:
        async with UpstreamClients(capacity=capacity) as client:
            while True:
                claiming = loop.time() < stop_claiming_at
                if claim and len(running) < capacity and claiming:
                    room = capacity - len(running)
                    jobs = await _db(services.claim_due_jobs)(
                        limit=min(CLAIM_BATCH, room) if listener.notified else room)
                    handled += len(jobs)
                    running.update(asyncio.create_task(_run_job(job, client, state))
                                   for job in jobs)
                claim = False
                await listener.heartbeat(has_room=claiming and len(running) < capacity)
                if listener.notified and claiming:
                    if not reinforced and len(running) >= capacity * REINFORCE_AT:
                        reinforced = True
                        await _db(enqueue)("generation.tasks.dispatch_jobs")
                    elif len(running) < capacity * REINFORCE_AT / 2:
                        reinforced = False
                if not running:
                    # Withdrawn before the last look: a job committed after it gets its own task.
                    await listener.withdraw()
                    due_in = await _db(services.seconds_until_next_due)()
                    if due_in is None or due_in > RETRY_LINGER_SECONDS or not claiming:
                        return handled
                    await asyncio.sleep(max(0.02, due_in))
                    claim = True
                    continue
                # Claim again when a job-due notice arrives (only while there is room to take
                # it), and at least every poll interval (retries falling due, lost notices).
                waiting = set(running)
                if len(running) < capacity and claiming:
                    if wake is None:
                        wake = asyncio.create_task(listener.wait(poll))
                    waiting.add(wake)
                done, _ = await asyncio.wait(waiting, timeout=poll,
                                             return_when=asyncio.FIRST_COMPLETED)
                if wake is not None and wake in done:
                    done.discard(wake)
                    wake = None
                    claim = True
                elif not done:
                    claim = True
                running -= done
                for task in done:
                    if task.exception() is not None:
                        logger.error("job runner crashed", exc_info=task.exception())
    finally:
        if wake is not None:
            wake.cancel()  # a notice popped meanwhile is lost; the job's own task still runs it
        await listener.close()


async def _provider(route, model: str, client, cache: dict):
    channel = route.channel
    if channel is None:  # no channel configured at all: whatever serves without one
        return await _db(services.provider_for)(model)
    key = (channel.pk, channel.updated_at)
    if key not in cache:  # one client per channel version: Vertex keeps its token between calls
        cache[key] = channels.provider_for_channel(channel, client)
    return cache[key]


async def _run_job(job: GenerationJob, client: "UpstreamClients", state: WorkerPass) -> None:
    """One attempt of one job; a bug of ours must not strand it in `running` until the sweep."""
    try:
        await _attempt(job, client, state)
    except Exception as exc:
        logger.exception("job %s crashed in the worker", job.id)
        await _db(services._settle_failure)(job, JobStatus.FAILED, "internal_error",
                                            f"The worker failed on this job ({type(exc).__name__}).")


def _release(state: WorkerPass, route, outcome: str, error: str = "") -> None:
    channels.channel_release(route=route, outcome=outcome, error=error)
    if outcome != "ok":
        state.channels.invalidate()  # the channel's health changed: read it again


async def _succeed(state: WorkerPass, route, job: GenerationJob, provider_name: str, result,
                   latency_ms: int, channel_name: str) -> None:
    """Hand a successful call to the settler and wait until it is settled. Calls that finish
    while the database thread settles others are settled together next, in one transaction:
    no waiting added, and the busier the worker, the fewer round trips per job."""
    future = asyncio.get_running_loop().create_future()
    state.finished.append(((route, job, provider_name, result, latency_ms, channel_name), future))
    if state.settler is None or state.settler.done():
        state.settler = asyncio.create_task(_settle_finished(state))
    await future


async def _settle_finished(state: WorkerPass) -> None:
    while state.finished:
        group, state.finished = state.finished, []
        try:
            errors = await _db(_settle_group)(state, [call for call, _ in group])
        except Exception as exc:  # e.g. Redis down while releasing: each job's crash path
            errors = [exc] * len(group)
        except BaseException:  # cancelled: no job may wait forever
            for _, future in group:
                future.cancel()
            raise
        for (_, future), error in zip(group, errors, strict=True):
            if error is None:
                future.set_result(None)
            else:
                future.set_exception(error)


def _settle_group(state: WorkerPass, calls: list[tuple]) -> list[Exception | None]:
    """Release each call's channel, then settle the group in one transaction. Should that fail,
    each call is settled on its own, so one bad job fails alone (its exception comes back)."""
    successes = []
    for route, job, provider_name, result, latency_ms, channel_name in calls:
        _release(state, route, "ok")
        successes.append(services.Success(
            job=job, provider_name=provider_name, result=result, latency_ms=latency_ms,
            channel_name=channel_name,
            may_have_listeners=state.may_have_listeners(job.organization_id)))
    if len(successes) > 1:
        try:
            services.jobs_settle_success(successes=successes)
            return [None] * len(successes)
        except Exception:
            logger.exception("settling %d jobs together failed; settling each alone",
                             len(successes))
    errors: list[Exception | None] = []
    for success in successes:
        try:
            services.jobs_settle_success(successes=[success])
            errors.append(None)
        except Exception as exc:
            errors.append(exc)
    return errors


def _fail(state: WorkerPass, job: GenerationJob, status: str, code: str, message: str,
          channel_name: str = "", *, provider_name: str = "", route=None,
          outcome: str = "") -> None:
    if route is not None:
        _release(state, route, outcome)
    services._settle_failure(job, status, code, message, channel_name,
                             provider_name=provider_name,
                             may_have_listeners=state.may_have_listeners(job.organization_id))


async def _attempt(job: GenerationJob, client: "UpstreamClients", state: WorkerPass) -> None:
    """Route, call, fail over between channels, then settle or requeue."""
    # Reads reference files and earlier turns: database and storage, so on the worker's thread
    # (the claim loaded the reference rows).
    request = await _db(services.image_request_for)(job)
    tried: set[int] = set()
    last_error: ProviderError | None = None
    last_channel = ""
    while True:
        route = await _db(channels.channel_route)(model=job.model, job_id=job.id,
                                                  exclude=frozenset(tried),
                                                  snapshot=state.channels)
        if isinstance(route, channels.NoRoute):
            if route.wait is not None and last_error is None:
                # Every channel is busy or open: wait for room without spending an attempt.
                await _db(services.job_requeue)(job=job, delay=route.wait,
                                                code="waiting_for_upstream", message=route.reason,
                                                consume_attempt=False)
            elif route.wait is not None and job.attempts < settings.JOB_MAX_ATTEMPTS:
                # Tried what was free and failed; others are busy or open: try them later.
                delay = max(route.wait, backoff_delay(job.attempts, last_error)
                            if last_error.retryable else 0.0)
                await _db(services.job_requeue)(job=job, delay=delay, code=last_error.code,
                                                message=f"Retrying in {delay:.1f}s: "
                                                        f"{last_error.message}")
            elif last_error is not None:
                await _retry_or_fail(state, job, last_error, last_channel)
            else:
                await _db(_fail)(state, job, JobStatus.FAILED, "no_upstream",
                                 route.reason.capitalize() + ".")
            return
        channel_name = route.channel.name if route.channel else ""
        provider = await _provider(route, job.model, client, state.providers)
        started = time.monotonic()
        try:
            result = await provider.generate(request)
        except SafetyBlocked as blocked:
            await _db(_release)(state, route, "ok")
            # Moderation owns blocks: the case, the charge policy and the settlement.
            await _db(services._settle_blocked)(job, blocked, provider_name=provider.name,
                                                channel_name=channel_name)
            return
        except AuthenticationFailed as error:
            await _db(_release)(state, route, "auth", error.message)
            tried.add(route.channel.pk)
            last_error, last_channel = error, channel_name
            continue  # fail over: this channel is out of rotation now
        except ProviderError as error:
            if not error.retryable:  # 400, NO_IMAGE: the same request fails anywhere
                await _db(_fail)(state, job, JobStatus.FAILED, error.code, error.message,
                                 channel_name, provider_name=provider.name, route=route,
                                 outcome="neutral")
                return
            await _db(_release)(state, route, "failure", f"{error.code}: {error.message}")
            if route.channel is None:
                last_error = error
                await _retry_or_fail(state, job, error, channel_name, provider.name)
                return
            tried.add(route.channel.pk)
            last_error, last_channel = error, channel_name
            continue  # fail over to the next channel on 429, 5xx, timeouts
        except Exception as exc:  # a provider bug must not strand the job in `running`
            logger.exception("provider %s crashed on job %s", provider.name, job.id)
            await _db(_release)(state, route, "failure", repr(exc))
            await _retry_or_fail(state, job,
                                 Unavailable(f"internal error calling upstream: {exc!r}"),
                                 channel_name, provider.name)
            return
        latency_ms = int((time.monotonic() - started) * 1000)
        await _succeed(state, route, job, provider.name, result, latency_ms, channel_name)
        return


async def _retry_or_fail(state: WorkerPass, job: GenerationJob, error: ProviderError,
                         channel_name: str, provider_name: str = "") -> None:
    if error.retryable and job.attempts < settings.JOB_MAX_ATTEMPTS:
        delay = backoff_delay(job.attempts, error)
        await _db(services.job_requeue)(job=job, delay=delay, code=error.code,
                                        message=f"Retrying in {delay:.1f}s: {error.message}")
        return
    await _db(_fail)(state, job, JobStatus.FAILED, error.code, error.message, channel_name,
                     provider_name=provider_name)
