"""Sync surfaces wait for jobs: by polling the database, or (Redis mode) on a shared-cache signal."""

import asyncio
import shutil
import socket
import subprocess
import time

import pytest
import redis
from asgiref.sync import async_to_sync, sync_to_async

from generation.waiting import CHANNEL, jobs_wait

PRO = "gemini-3-pro-image-preview"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory):
    """A throwaway redis-server for the Redis-mode cache."""
    if not shutil.which("redis-server"):
        pytest.fail("redis-server is required for the Redis-mode tests")
    port = _free_port()
    process = subprocess.Popen(["redis-server", "--port", str(port), "--bind", "127.0.0.1",
                                "--save", "", "--appendonly", "no",
                                "--dir", str(tmp_path_factory.mktemp("redis"))],
                               stdout=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                break
        time.sleep(0.05)
    yield f"redis://127.0.0.1:{port}/0"
    process.terminate()
    process.wait(timeout=10)


def test_database_polling_sees_a_finished_job(owner, submit, run_queued_jobs):
    job = submit(owner, model=PRO, prompt="x").json()
    assert async_to_sync(jobs_wait)([job["id"]], timeout=0) is False
    run_queued_jobs()
    assert async_to_sync(jobs_wait)([job["id"]], timeout=0) is True


def test_redis_mode_finishing_a_job_publishes_its_id(
        owner, submit, run_queued_jobs, redis_url, settings, django_capture_on_commit_callbacks):
    settings.REDIS_URL = redis_url
    job = submit(owner, model=PRO, prompt="x").json()
    subscriber = redis.Redis.from_url(redis_url).pubsub()
    subscriber.subscribe(CHANNEL)
    assert subscriber.get_message(timeout=5)["type"] == "subscribe"

    with django_capture_on_commit_callbacks(execute=True):
        run_queued_jobs()

    message = subscriber.get_message(timeout=5)
    assert (message["type"], message["data"]) == ("message", job["id"].encode())
    subscriber.close()


def test_redis_mode_waiter_wakes_when_its_job_finishes(
        owner, submit, run_queued_jobs, redis_url, settings, django_capture_on_commit_callbacks):
    settings.REDIS_URL = redis_url
    job = submit(owner, model=PRO, prompt="x").json()

    def finish():
        with django_capture_on_commit_callbacks(execute=True):
            run_queued_jobs()

    async def scenario():
        waiter = asyncio.create_task(jobs_wait([job["id"]], timeout=60))
        await asyncio.sleep(0)  # the waiter registers and starts the subscription
        assert not waiter.done()
        await sync_to_async(finish)()
        return await waiter

    assert async_to_sync(scenario)() is True
    assert async_to_sync(jobs_wait)([job["id"]], timeout=0) is True
