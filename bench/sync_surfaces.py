"""Sync surface under load: SYNC_REQUESTS (500) concurrent OpenAI-compatible
`POST /v1/images/generations` against real processes — the fake Gemini server answering in
UPSTREAM_LATENCY (10) s, uvicorn, and a django-q2 cluster on the Redis broker — and the time
Atelier adds over the upstream's own answer time.

Overhead per request = client latency − the job's `upstream_latency_ms` (the worker's own timing
of the upstream call, so the fake's exact answer time, not an assumed 10 s). The breakdown
splits it with the job's timestamps: submit (client start → job row), queue (job row → claimed),
settle (claimed → finished, minus the upstream call), answer (finished → client has the body:
wake-up, render, response). Needs Redis: TEST_REDIS_URL (exported by scripts/with_services.py)
or REDIS_URL.
"""

import asyncio
import contextlib
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import httpx
from django.conf import settings
from django.db import connection

from accounts.models import Scope, User
from accounts.services import api_key_create, organization_create
from bench.upstream import _database_url, _tree_rss_bytes
from billing.money import parse_usd
from generation.models import Channel, GenerationJob

REQUESTS = int(os.environ.get("SYNC_REQUESTS", "500"))
LATENCY = float(os.environ.get("UPSTREAM_LATENCY", "10"))
WEB_WORKERS = os.environ.get("SYNC_WEB_WORKERS", "2")
Q_WORKERS = os.environ.get("SYNC_Q_WORKERS", "4")
CONCURRENCY = os.environ.get("SYNC_WORKER_CONCURRENCY", "150")  # upstream calls per worker
TARGET_MS = 300
ROOT = Path(__file__).resolve().parent.parent
FAKE_KEY = "bench-sync-key"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * fraction))] if ordered else float("nan")


def _wait_healthy(url: str, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with contextlib.suppress(httpx.TransportError):
            if httpx.get(url, timeout=1).status_code == 200:
                return
        time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer within {seconds:g} s")


def _stop(process: subprocess.Popen, sig=signal.SIGTERM) -> None:
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, sig)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=20)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)  # whatever is left of the process group
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=5)


async def _fire(base: str, key: str, count: int, tag: str) -> list[dict]:
    limits = httpx.Limits(max_connections=count + 10, max_keepalive_connections=count + 10)
    timeout = httpx.Timeout(LATENCY * 3 + 60, connect=30)
    results: list[dict] = []

    async def one(client: httpx.AsyncClient, n: int) -> None:
        prompt = f"{tag} {n}"
        started_wall, started = time.time(), time.perf_counter()
        try:
            response = await client.post("/v1/images/generations", json={
                "model": "gpt-image-1", "prompt": prompt, "size": "1024x1024", "n": 1,
                "response_format": "url"})
            status = response.status_code
        except httpx.HTTPError as error:
            status = type(error).__name__
        results.append({"prompt": prompt, "status": status, "started_wall": started_wall,
                        "ended_wall": time.time(), "latency": time.perf_counter() - started})

    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=timeout,
                                 headers={"Authorization": f"Bearer {key}"}) as client:
        await asyncio.gather(*(one(client, n) for n in range(count)))
    return results


def run() -> str:
    logging.getLogger("httpx").setLevel(logging.WARNING)
    redis_url = os.environ.get("TEST_REDIS_URL") or os.environ.get("REDIS_URL")
    if not redis_url:
        return "Skipped: no Redis (run under scripts/with_services.py, which exports TEST_REDIS_URL)."
    owner = User.objects.create_user(email=f"bench-sync-{time.time_ns()}@bench.test")
    organization = organization_create(name="Bench sync", owner=owner,
                                       signup_credits=parse_usd("100000"))
    _, key = api_key_create(organization=organization, name="bench", scopes=list(Scope.values))
    # Only the env-described default channel serves this run.
    Channel.objects.filter(enabled=True).exclude(name="default-gemini").update(enabled=False)
    fake_port, web_port = _free_port(), _free_port()
    env = {**os.environ, "DATABASE_URL": _database_url(), "REDIS_URL": redis_url,
           "GEMINI_API_KEY": FAKE_KEY, "GEMINI_BASE_URL": f"http://127.0.0.1:{fake_port}",
           "RATE_LIMIT_PER_KEY_RPM": "1000000", "MAX_CONCURRENT_JOBS_PER_ORG": "100000",
           "Q_WORKERS": Q_WORKERS, "WORKER_CONCURRENCY": CONCURRENCY, "LOG_LEVEL": "WARNING",
           "MEDIA_ROOT": str(Path(settings.MEDIA_ROOT) / "bench")}
    connection.close()
    processes: list[subprocess.Popen] = []
    rss: list[int] = []
    sampling = threading.Event()
    try:
        processes.append(subprocess.Popen(
            [sys.executable, "-m", "tests.fakes.fake_gemini", "--port", str(fake_port),
             "--latency", f"{LATENCY:g}", "--api-key", FAKE_KEY, "--thought-images", "0"],
            cwd=ROOT, env=env, start_new_session=True, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL))
        subprocess.run([sys.executable, "manage.py", "ensure_default_channel"], cwd=ROOT, env=env,
                       check=True, timeout=60)
        processes.append(subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "config.asgi:application", "--port", str(web_port),
             "--workers", WEB_WORKERS, "--no-access-log", "--log-level", "warning",
             "--backlog", "4096"], cwd=ROOT, env=env, start_new_session=True))
        cluster = subprocess.Popen([sys.executable, "manage.py", "qcluster"], cwd=ROOT, env=env,
                                   start_new_session=True)
        processes.append(cluster)
        base = f"http://127.0.0.1:{web_port}"
        _wait_healthy(f"http://127.0.0.1:{fake_port}/healthz", 30)
        _wait_healthy(f"{base}/healthz", 60)

        def sample() -> None:
            while not sampling.wait(0.5):
                rss.append(_tree_rss_bytes(cluster.pid))

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        # Warm-up: a few requests reach both web workers and the cluster, so that imports and
        # first connections are not counted.
        warm = asyncio.run(_fire(base, key, 8, "warm-up"))
        began = time.perf_counter()
        results = asyncio.run(_fire(base, key, REQUESTS, "bench sync"))
        wall = time.perf_counter() - began
    finally:
        sampling.set()
        for process in reversed(processes):
            _stop(process, signal.SIGINT if "uvicorn" in process.args else signal.SIGTERM)
    jobs = {job.prompt: job for job in GenerationJob.objects.filter(
        organization=organization, prompt__startswith="bench sync")}
    return _report(results, jobs, wall, rss, warm)


def _report(results: list[dict], jobs: dict, wall: float, rss: list[int], warm: list[dict]) -> str:
    errors = Counter(str(r["status"]) for r in results if r["status"] != 200)
    ok = [r for r in results if r["status"] == 200]
    latencies = [r["latency"] for r in ok]
    overhead, parts = [], {"submit": [], "queue": [], "settle": [], "answer": []}
    for r in ok:
        job = jobs.get(r["prompt"])
        if job is None or job.upstream_latency_ms is None:
            continue
        upstream = job.upstream_latency_ms / 1000
        overhead.append(r["latency"] - upstream)
        parts["submit"].append(job.created_at.timestamp() - r["started_wall"])
        parts["queue"].append((job.started_at - job.created_at).total_seconds())
        parts["settle"].append((job.finished_at - job.started_at).total_seconds() - upstream)
        parts["answer"].append(r["ended_wall"] - job.finished_at.timestamp())
    upstreams = [j.upstream_latency_ms for j in jobs.values() if j.upstream_latency_ms]
    p99 = _percentile(overhead, 0.99) * 1000
    met = "met" if overhead and not errors and p99 < TARGET_MS else "NOT met"

    def ms(values: list[float], fraction: float) -> str:
        return f"{_percentile(values, fraction) * 1000:.0f}"

    lines = [
        f"Sync surface: {REQUESTS} concurrent `POST /v1/images/generations` (`gpt-image-1`, "
        f"1024x1024, response_format `url`), fake Gemini answering in {LATENCY:g} s; "
        f"{WEB_WORKERS} uvicorn workers, {Q_WORKERS} django-q2 workers on the Redis broker, "
        f"WORKER_CONCURRENCY={CONCURRENCY}. Warm-up: {len(warm)} requests first "
        f"(statuses {dict(Counter(str(r['status']) for r in warm))}).",
        "",
        f"{len(results)} requests, {len(ok)} answered 200, errors by status: "
        f"{dict(errors) or 'none'}; wall time {wall:.1f} s. Upstream call (worker-timed) "
        f"min/median/max {min(upstreams, default=0)}/{_percentile(upstreams, 0.5):.0f}/"
        f"{max(upstreams, default=0)} ms. Worker cluster RSS total (max): "
        f"{max(rss, default=0) / 2**20:.0f} MiB.",
        "",
        "| | p50 ms | p99 ms | max ms |",
        "|---|---|---|---|",
        f"| latency | {ms(latencies, .5)} | {ms(latencies, .99)} | "
        f"{max(latencies, default=0) * 1000:.0f} |",
        f"| **overhead** (latency − upstream) | {ms(overhead, .5)} | {ms(overhead, .99)} | "
        f"{max(overhead, default=0) * 1000:.0f} |",
    ]
    lines += [f"| · {name} | {ms(values, .5)} | {ms(values, .99)} | "
              f"{max(values, default=0) * 1000:.0f} |" for name, values in parts.items()]
    lines += ["", f"Target: overhead p99 < {TARGET_MS} ms with no errors — **{met}** "
                  f"(p99 {p99:.0f} ms)."]
    return "\n".join(lines)
