"""The embedded platform for real: `config.serve` starts uvicorn and a django-q2 cluster as
separate processes (as `make run` does), and a client drives them over HTTP."""

import io
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from django.conf import settings
from django.db import connection
from PIL import Image

from billing.models import EntryKind, LedgerEntry, Wallet
from tests.conftest import make_tenant
from tests.processes import free_port, wait_until_serving

ROOT = Path(__file__).resolve().parent.parent



def database_url() -> str:
    db = connection.settings_dict
    return f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"


@pytest.fixture
def platform(transactional_db, django_db_serialized_rollback):
    # serialized_rollback: earlier transactional tests flush the tables, seeded prices included.
    port = free_port()
    env = {**os.environ, "DATABASE_URL": database_url(), "PORT": str(port),
           "MEDIA_ROOT": settings.MEDIA_ROOT, "Q_WORKERS": "1"}
    process = subprocess.Popen([sys.executable, "-m", "config.serve"], cwd=ROOT, env=env)
    base = f"http://127.0.0.1:{port}"
    wait_until_serving(base)
    yield base, process
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=30)
    connection.close()


def test_submit_render_download_and_capture_through_real_processes(platform):
    base, process = platform
    tenant = make_tenant("Live Agency", "live@agency.test", credits="5")
    headers = {"Authorization": f"Bearer {tenant.api_key}"}

    created = httpx.post(f"{base}/api/v1/generations", headers=headers, json={
        "model": "gemini-3-pro-image-preview", "prompt": "a lighthouse at dawn",
        "image_size": "2K", "aspect_ratio": "16:9"})
    assert created.status_code == 202, created.text
    job_url = created.headers["location"]

    job = created.json()
    for _ in range(600):  # a bound on waiting for the worker, not a speed assertion
        job = httpx.get(job_url, headers=headers).json()
        if job["status"] not in ("queued", "running"):
            break
        time.sleep(0.1)
    assert job["status"] == "succeeded", job

    image = httpx.get(job["images"][0]["url"])
    assert image.status_code == 200
    assert Image.open(io.BytesIO(image.content)).size == (2752, 1536)

    wallet = Wallet.objects.get(organization=tenant.organization)
    assert (wallet.balance, wallet.reserved) == (5_000_000 - 134_000, 0)
    assert LedgerEntry.objects.get(wallet=wallet, kind=EntryKind.CAPTURE).amount == -134_000

    process.send_signal(signal.SIGINT)  # Ctrl-C stops the web server and the cluster
    assert process.wait(timeout=30) == 0
