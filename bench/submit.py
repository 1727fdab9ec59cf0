"""Native submits per second and latency: concurrent clients POST /api/v1/generations to a real
uvicorn server on PostgreSQL. Measures the submit path (auth, validate, quote, reserve, enqueue);
the queued jobs are not run."""

import asyncio
import logging
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import httpx
from django.db import connection

from accounts.models import User
from accounts.services import api_key_create, organization_create
from billing.money import parse_usd
from tests.processes import free_port, wait_until_serving

REQUESTS = int(os.environ.get("BENCH_SUBMITS", "2000"))
WEB_WORKERS = os.environ.get("WEB_WORKERS", "2")
CONCURRENCY = int(os.environ.get("BENCH_CONCURRENCY", "32"))
ROOT = Path(__file__).resolve().parent.parent


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * fraction))]


async def _drive(base: str, key: str) -> tuple[list[float], Counter, float]:
    latencies: list[float] = []
    errors: Counter = Counter()
    remaining = iter(range(REQUESTS))
    body = {"model": "gemini-3-pro-image-preview", "prompt": "bench", "image_size": "1K"}

    async def client_loop(client: httpx.AsyncClient):
        for _ in remaining:
            started = time.perf_counter()
            response = await client.post("/api/v1/generations", json=body)
            latencies.append(time.perf_counter() - started)
            if response.status_code != 202:
                errors[response.status_code] += 1

    limits = httpx.Limits(max_connections=CONCURRENCY)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=60,
                                 headers={"Authorization": f"Bearer {key}"}) as client:
        began = time.perf_counter()
        await asyncio.gather(*(client_loop(client) for _ in range(CONCURRENCY)))
        elapsed = time.perf_counter() - began
    return latencies, errors, elapsed


def run() -> str:
    logging.getLogger("httpx").setLevel(logging.WARNING)
    owner = User.objects.create_user(email=f"bench-{time.time_ns()}@bench.test")
    organization = organization_create(name="Bench", owner=owner, signup_credits=parse_usd("100000"))
    _, key = api_key_create(organization=organization, name="bench")
    port = free_port()
    connection.close()
    # The per-key rate limit and per-organization job cap would refuse a benchmark's traffic
    # (nothing runs the queued jobs here); this measures the submit path itself.
    env = {**os.environ, "RATE_LIMIT_PER_KEY_RPM": "1000000",
           "MAX_CONCURRENT_JOBS_PER_ORG": "1000000"}
    server = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "config.asgi:application", "--port", str(port),
         "--workers", WEB_WORKERS, "--no-access-log", "--log-level", "warning"], cwd=ROOT,
        env=env)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_serving(base)
        latencies, errors, elapsed = asyncio.run(_drive(base, key))
    finally:
        server.send_signal(signal.SIGINT)
        server.wait(timeout=30)
    return "\n".join([
        f"### Native submits (`POST /api/v1/generations`, {WEB_WORKERS} uvicorn workers)",
        "",
        f"{REQUESTS} requests, {CONCURRENCY} concurrent clients, "
        f"errors by status: {dict(errors) or 'none'}.",
        "",
        "| submits/s | p50 ms | p99 ms |",
        "|---|---|---|",
        f"| {len(latencies) / elapsed:.0f} | {_percentile(latencies, 0.50) * 1000:.1f} "
        f"| {_percentile(latencies, 0.99) * 1000:.1f} |",
    ])
