"""Upstream concurrency: real django-q2 worker processes run jobs against the fake Gemini
server answering in UPSTREAM_LATENCY seconds (10 by default). Reports the upstream calls held
in flight (sampled at the fake), jobs finished per second, and the resident memory of every
worker process together (the whole `qcluster` process tree)."""

import contextlib
import os
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path

from django.conf import settings
from django.db import connection

from accounts.models import Scope, User
from accounts.services import api_key_create, organization_create
from accounts.tenancy import Tenant
from billing.money import parse_usd
from generation.models import Channel, GenerationJob, JobStatus
from generation.services import job_cancel, job_submit
from tests.fakes.fake_gemini import running_fake_gemini

JOBS = int(os.environ.get("BENCH_UPSTREAM_JOBS", "500"))
LATENCY = float(os.environ.get("UPSTREAM_LATENCY", "10"))
Q_WORKERS = os.environ.get("BENCH_Q_WORKERS", "2")
ROOT = Path(__file__).resolve().parent.parent


def _tree(root_pid: int) -> list[int]:
    """A process and all its descendants, from /proc."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as stat:
                    parent = int(stat.read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(parent, []).append(int(entry))
    found, stack = [], [root_pid]
    while stack:
        pid = stack.pop()
        found.append(pid)
        stack.extend(children.get(pid, []))
    return found


def _tree_rss_bytes(root_pid: int) -> int:
    """Resident memory of a process and all its descendants."""
    total = 0
    for pid in _tree(root_pid):
        try:
            with open(f"/proc/{pid}/status") as status:
                for line in status:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1]) * 1024
        except OSError:
            continue
    return total


def _tree_cpu_seconds(root_pid: int) -> float:
    """CPU time (user + system) used so far by a process and its descendants, the exited ones
    included once their parent has reaped them."""
    ticks = 0
    for pid in _tree(root_pid):
        try:
            with open(f"/proc/{pid}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        ticks += sum(int(value) for value in fields[11:15])  # utime stime cutime cstime
    return ticks / os.sysconf("SC_CLK_TCK")


def _database_url() -> str:
    db = connection.settings_dict
    return f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"


def run() -> str:
    owner = User.objects.create_user(email=f"bench-up-{time.time_ns()}@bench.test")
    organization = organization_create(name="Bench upstream", owner=owner,
                                       signup_credits=parse_usd("100000"))
    key, _ = api_key_create(organization=organization, name="bench", scopes=list(Scope.values))
    tenant = Tenant(organization=organization, scopes=frozenset(Scope.values), brand=None,
                    api_key=key, user=owner, role=None)
    Channel.objects.filter(name="bench-fake").delete()
    # Earlier benchmarks leave queued jobs behind (the submit benchmark never runs its jobs);
    # cancel them so the workers here run exactly this benchmark's jobs.
    for job in GenerationJob.objects.filter(status=JobStatus.QUEUED).select_related("reservation"):
        job_cancel(job=job)
    with running_fake_gemini(latency=LATENCY) as fake:
        channel = Channel(name="bench-fake", provider="gemini", base_url=fake.base_url,
                          priority=1000, timeout_seconds=int(LATENCY * 3 + 30))
        channel.secret = fake.api_key
        channel.save()
        ids = [job_submit(tenant=tenant, model="gemini-2.5-flash-image", prompt=f"bench {n}").id
               for n in range(JOBS)]
        connection.close()
        env = {**os.environ, "DATABASE_URL": _database_url(), "Q_WORKERS": Q_WORKERS,
               "LOG_LEVEL": "WARNING", "MEDIA_ROOT": str(Path(settings.MEDIA_ROOT) / "bench")}
        env.pop("REDIS_URL", None)
        cluster = subprocess.Popen([sys.executable, "manage.py", "qcluster"], cwd=ROOT, env=env,
                                   start_new_session=True)
        samples, rss = [], []
        began = time.monotonic()
        try:
            while True:
                time.sleep(0.5)
                samples.append((time.monotonic() - began, fake.app.in_flight))
                rss.append(_tree_rss_bytes(cluster.pid))
                left = GenerationJob.objects.filter(pk__in=ids).exclude(
                    status__in=(JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.BLOCKED)).count()
                if not left or time.monotonic() - began > JOBS * LATENCY / 50 + 120:
                    break
            elapsed = time.monotonic() - began
        finally:
            cluster.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                cluster.wait(timeout=30)
            with contextlib.suppress(ProcessLookupError):
                os.killpg(cluster.pid, signal.SIGKILL)  # whatever is left of the process group
        done = GenerationJob.objects.filter(pk__in=ids, status=JobStatus.SUCCEEDED).count()
        requests = fake.app.request_count
    Channel.objects.filter(name="bench-fake").delete()
    # Steady state: after the first answers came back and before the queue ran dry.
    steady = [count for at, count in samples if LATENCY < at < elapsed - LATENCY] or [0]
    return "\n".join([
        f"Upstream concurrency: fake Gemini answering in {LATENCY:g} s, "
        f"{Q_WORKERS} django-q2 workers, WORKER_CONCURRENCY={settings.WORKER_CONCURRENCY}.",
        "",
        f"{JOBS} jobs ({done} succeeded, {requests} upstream calls) in {elapsed:.1f} s, "
        f"including worker start-up.",
        "",
        "| calls in flight (steady median) | max in flight | jobs/s | worker RSS total (max) |",
        "|---|---|---|---|",
        f"| {statistics.median(steady):.0f} | {fake.app.max_in_flight} | {done / elapsed:.1f} "
        f"| {max(rss) / 2**20:.0f} MiB |",
    ])
