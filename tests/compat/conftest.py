"""A live server and a real django-q2 worker (a `qcluster` subprocess) on the test database.

The compatible surfaces answer only when their jobs finish, so SDK tests need both: the live
server takes the SDK's requests, the cluster runs the jobs they queue. Both share MEDIA_ROOT.
"""

import contextlib
import io
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psycopg
import pytest
from django.conf import settings as django_settings
from django.db import connection
from PIL import Image

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    """Test users need passwords, not a deliberately slow hash (0.5 s each on this machine)."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def _database_url() -> str:
    db = connection.settings_dict
    auth = db["USER"] + (f":{db['PASSWORD']}" if db["PASSWORD"] else "")
    return f"postgres://{auth}@{db['HOST']}:{db['PORT']}/{db['NAME']}"


@pytest.fixture(scope="session")
def shared_media(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("compat-media")


@pytest.fixture(scope="module")
def qcluster(django_db_setup, django_db_blocker, shared_media):
    """One worker cluster per test module, on the test database, as `make run` starts it.
    Not per session: a cluster left running would take jobs queued by later modules' workers
    (they share the ORM broker) and write their images into this fixture's media folder."""
    with django_db_blocker.unblock():
        url = _database_url()
    env = {**os.environ, "DATABASE_URL": url, "MEDIA_ROOT": str(shared_media), "Q_WORKERS": "1",
           "SECRET_KEY": django_settings.SECRET_KEY, "LOG_LEVEL": "WARNING"}
    # Its own process group: the cluster forks workers, and all of them must be gone (with their
    # database sessions) before the test database is dropped.
    process = subprocess.Popen([sys.executable, "manage.py", "qcluster"], cwd=ROOT, env=env,
                               start_new_session=True)
    yield process
    _stop_group(process)
    _drop_leftover_sessions(url)


def _drop_leftover_sessions(url: str) -> None:
    """Async views served by the WSGI live server open connections inside asgiref contexts that
    the server's per-request `close_all` does not see; end them so the test database can be
    dropped. (Under uvicorn, Django closes them at the end of each request.)"""
    database = connection.settings_dict["NAME"]
    with psycopg.connect(url.rsplit("/", 1)[0] + "/postgres", autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                      "WHERE datname = %s AND pid <> pg_backend_pid()", [database])


def _stop_group(process: subprocess.Popen) -> None:
    group = process.pid  # start_new_session: the group id is the leader's pid
    process.terminate()  # the cluster stops its own workers on SIGTERM
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        process.poll()
        try:
            os.killpg(group, 0)
        except ProcessLookupError:
            return
        time.sleep(0.1)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(group, signal.SIGKILL)
    process.wait()


@pytest.fixture
def live(live_server, qcluster, settings, shared_media):
    """The live server's base URL, with jobs run by the cluster and files in shared media."""
    settings.MEDIA_ROOT = str(shared_media)
    settings.SYNC_WAIT_SECONDS = 60  # a broken worker fails the test instead of stalling it
    assert qcluster.poll() is None, "the qcluster subprocess died"
    return live_server.url


def png_bytes(width: int, height: int, color=(200, 40, 40), mode="RGB") -> bytes:
    buffer = io.BytesIO()
    Image.new(mode, (width, height), color).save(buffer, format="PNG")
    return buffer.getvalue()


def image_of(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image
