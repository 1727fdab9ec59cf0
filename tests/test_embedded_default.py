"""`make run`'s embedded default for real: SQLite, the ORM broker and the local renderer, in
fresh processes with no database server. It follows the README: migrate, bootstrap the demo,
start web + worker, then the curl example through to a downloaded 2752x1536 PNG."""

import io
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from PIL import Image

from tests.test_end_to_end import ROOT, free_port


@pytest.fixture
def embedded(tmp_path):
    env = {key: value for key, value in os.environ.items()
           if key not in ("DATABASE_URL", "REDIS_URL", "MEDIA_ROOT", "GEMINI_API_KEY")}
    env.update(DEBUG="1", ATELIER_VAR_DIR=str(tmp_path / "var"), PORT=str(free_port()),
               Q_WORKERS="1")
    manage = [sys.executable, "manage.py"]
    subprocess.run([*manage, "migrate", "--noinput", "-v", "0"], cwd=ROOT, env=env, check=True)
    subprocess.run([*manage, "bootstrap_demo"], cwd=ROOT, env=env, check=True,
                   stdout=subprocess.DEVNULL)
    process = subprocess.Popen([sys.executable, "-m", "config.serve"], cwd=ROOT, env=env)
    base = f"http://127.0.0.1:{env['PORT']}"
    for _ in range(200):
        try:
            httpx.get(f"{base}/healthz", timeout=1)
            break
        except httpx.TransportError:
            time.sleep(0.1)
    demo = json.loads((Path(env["ATELIER_VAR_DIR"]) / "demo.json").read_text())
    yield base, demo, env, process
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=30)


def test_the_readme_example_on_sqlite_renders_downloads_and_captures(embedded):
    base, demo, env, process = embedded
    headers = {"Authorization": f"Bearer {demo['api_key']}"}

    created = httpx.post(f"{base}/api/v1/generations", headers=headers, json={
        "model": "gemini-3-pro-image-preview", "prompt": "a lighthouse at dawn",
        "image_size": "2K", "aspect_ratio": "16:9"})
    assert created.status_code == 202, created.text
    job = created.json()
    for _ in range(600):  # a bound on waiting for the worker, not a speed assertion
        job = httpx.get(f"{base}/api/v1/generations/{job['id']}", headers=headers).json()
        if job["status"] not in ("queued", "running"):
            break
        time.sleep(0.1)
    assert job["status"] == "succeeded", job
    assert job["local_render"] is True

    png = Image.open(io.BytesIO(httpx.get(job["images"][0]["url"]).content))
    assert (png.format, png.size) == ("PNG", (2752, 1536))
    wallet = httpx.get(f"{base}/api/v1/wallet", headers=headers).json()
    assert wallet["balance"]["usd"] == "24.866"  # $25 demo credit minus the 2K price
    assert wallet["reserved"]["micros"] == 0

    too_big = httpx.post(f"{base}/api/v1/generations", headers=headers, json={
        "model": "gemini-2.5-flash-image", "prompt": "x", "aspect_ratio": "7:5"})
    assert too_big.json()["error"]["code"] == "unsupported_aspect_ratio"

    reconcile = subprocess.run([sys.executable, "manage.py", "reconcile"], cwd=ROOT, env=env,
                               capture_output=True, text=True)
    assert reconcile.returncode == 0, reconcile.stdout + reconcile.stderr
