"""Fixtures for the native API extras: a viewer, brands and brand-bound keys, a webhook
receiver, and a way to run the queue including the on-commit hooks of what it runs."""

import os
import shutil
import socket
import subprocess
import time

import pytest
from django.core.cache import cache
from rest_framework.test import APIClient

from accounts.models import Membership, Role, Scope, User
from accounts.services import api_key_create, brand_create
from tests.fakes.webhook_receiver import start_receiver

PRO = "gemini-3-pro-image-preview"
FLASH = "gemini-2.5-flash-image"


def client_for(secret: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    return client


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    """The shared fixtures create several users per test; PBKDF2 would dominate the run time."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _fresh_rate_limits():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def viewer(owner):
    user = User.objects.create_user(email="viewer@northwind.test", password="correct horse v")
    Membership.objects.create(user=user, organization=owner.organization, role=Role.VIEWER)
    client = APIClient()
    client.force_login(user)
    return client


@pytest.fixture
def brands(owner):
    """Two brands of the owner's organization, each with a key bound to it (all scopes)."""
    made = {}
    for name in ("Acme", "Globex"):
        brand = brand_create(organization=owner.organization, name=name)
        _, secret = api_key_create(organization=owner.organization, name=f"{name} key",
                                   created_by=owner.user, scopes=list(Scope.values), brand=brand)
        made[name] = (brand, client_for(secret))
    return made


@pytest.fixture
def receiver(settings):
    settings.ALLOW_PRIVATE_WEBHOOK_URLS = True
    server = start_receiver()
    yield server
    server.close()


@pytest.fixture
def work(run_queued_jobs, django_capture_on_commit_callbacks):
    """Run everything queued (jobs, then the webhook deliveries their settlement queued) until
    the broker is empty; returns how many tasks ran."""

    def _work() -> int:
        total = 0
        while True:
            with django_capture_on_commit_callbacks(execute=True):
                ran = run_queued_jobs()
            total += ran
            if not ran:
                return total

    return _work


@pytest.fixture
def post(django_capture_on_commit_callbacks):
    """POST JSON with on-commit hooks executed, as in production."""

    def _post(client, path, payload=None, **headers):
        with django_capture_on_commit_callbacks(execute=True):
            return client.post(path, payload or {}, format="json", **headers)

    return _post


def _redis_server_binary() -> str:
    found = shutil.which("redis-server")
    if found is None and os.geteuid() == 0:
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(["apt-get", "update", "-qq"], check=True, env=env)
        subprocess.run(["apt-get", "install", "-y", "-qq", "redis-server"], check=True, env=env)
        found = shutil.which("redis-server")
    if found is None:
        pytest.fail("redis-server is needed for the Redis-mode tests; install Debian's redis-server.")
    return found


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory):
    """A real, throwaway Redis server on loopback (production keeps rate limits in Redis)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    directory = tmp_path_factory.mktemp("redis")
    process = subprocess.Popen(
        [_redis_server_binary(), "--port", str(port), "--bind", "127.0.0.1", "--save", "",
         "--appendonly", "no", "--dir", str(directory)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            time.sleep(0.05)
    yield f"redis://127.0.0.1:{port}/0"
    process.terminate()
    process.wait(timeout=10)


@pytest.fixture
def redis_cache(settings, redis_url):
    """Point Django's cache at the Redis server for one test."""
    from django.core.cache import caches

    settings.CACHES = {"default": {"BACKEND": "config.cache.SharedRedisCache",
                                   "LOCATION": redis_url}}
    caches["default"].clear()
    yield caches["default"]
    caches["default"].clear()
