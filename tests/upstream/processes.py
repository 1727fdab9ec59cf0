"""Real worker processes for the upstream tests: django-q2 clusters (`manage.py qcluster`) on the
test database, with the Redis broker at TEST_REDIS_URL (started by `make test`)."""

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import redis
from django.conf import settings
from django.db import connection
from django_q.brokers.redis_broker import Redis
from django_q.tasks import async_task

ROOT = Path(__file__).resolve().parent.parent.parent


def redis_url() -> str:
    url = os.environ.get("TEST_REDIS_URL")
    if not url:
        pytest.fail("TEST_REDIS_URL is not set: run the suite with `make test` "
                    "(scripts/with_services.py starts Redis).")
    return url


def database_url() -> str:
    db = connection.settings_dict
    return f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"


class RedisBroker(Redis):
    """django-q2's own Redis broker, pointed at the test server (this process's settings use
    the ORM broker, as the default suite does)."""

    def __init__(self, url: str):
        self._url = url
        super().__init__(list_key="atelier")

    def get_connection(self, list_key=None):
        return redis.from_url(self._url)


def enqueue(broker: RedisBroker, func: str, *args) -> None:
    async_task(func, *args, broker=broker)


def start_cluster(url: str, **env) -> subprocess.Popen:
    environment = {**os.environ, "DATABASE_URL": database_url(), "REDIS_URL": url,
                   "MEDIA_ROOT": settings.MEDIA_ROOT, "Q_WORKERS": "2", "LOG_LEVEL": "WARNING",
                   **{key: str(value) for key, value in env.items()}}
    # Its own session, so the whole cluster (guard, pusher, monitor, workers) can be signalled.
    return subprocess.Popen([sys.executable, "manage.py", "qcluster"], cwd=ROOT, env=environment,
                            start_new_session=True)


def stop_cluster(process: subprocess.Popen) -> None:
    """Graceful: SIGTERM to the cluster's guard, which stops its own children."""
    if process.poll() is None:
        process.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=30)
    kill_cluster(process)


def kill_cluster(process: subprocess.Popen) -> None:
    """SIGKILL every process of the cluster at once: no handler runs, nothing is cleaned up."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=10)


def wait_until(predicate, limit: float = 90.0, what: str = "condition"):
    """A bound on waiting for other processes, not a speed assertion."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"gave up waiting for {what}")
