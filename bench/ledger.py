"""Reserve + capture pairs per second: on one hot wallet (every pair waits for the same row
lock) and spread over 1,000 wallets, with concurrent threads each holding its own database
connection. Reports throughput, latency percentiles, deadlocks, and whether `reconcile` still
finds every wallet equal to its ledger afterwards. Target: >= 1,000 pairs/s on one wallet."""

import random
import threading
import time
import uuid
from datetime import timedelta

from django.db import OperationalError, connection, transaction
from django.utils import timezone

from accounts.models import Organization
from billing.models import EntryKind, Wallet
from billing.selectors import wallet_discrepancies
from billing.services import ledger_post, reservation_capture, reservation_open

SECONDS = 5.0
PRICE = 134_000
SCENARIOS = (  # (label, wallets, threads)
    ("one hot wallet", 1, 1),
    ("one hot wallet", 1, 4),
    ("one hot wallet", 1, 8),
    ("1,000 wallets", 1000, 4),
    ("1,000 wallets", 1000, 8),
)


def _organizations(count: int, run: str) -> list[Organization]:
    organizations = Organization.objects.bulk_create(
        Organization(name=f"bench {run} {n}", slug=f"bench-{run}-{n}") for n in range(count))
    with transaction.atomic():
        wallets = Wallet.objects.bulk_create(Wallet(organization=org) for org in organizations)
    for wallet in wallets:
        ledger_post(wallet=wallet, kind=EntryKind.ADJUSTMENT, amount=10**12,
                    idempotency_key=f"bench:{wallet.pk}", memo="benchmark funds")
    return organizations


def _is_deadlock(error: Exception) -> bool:
    return "deadlock" in str(error).lower()


def _worker(organizations, deadline, latencies, counters, lock, start):
    mine, deadlocks, errors = [], 0, 0
    expires_at = timezone.now() + timedelta(hours=1)
    start.wait()
    try:
        while time.perf_counter() < deadline:
            organization = random.choice(organizations)
            began = time.perf_counter()
            try:
                held = reservation_open(organization=organization, amount=PRICE,
                                        reference=f"bench:{uuid.uuid4()}", expires_at=expires_at)
                reservation_capture(reservation=held)
            except OperationalError as error:
                if not _is_deadlock(error):
                    raise
                deadlocks += 1
                continue
            except Exception:  # noqa: BLE001 - counted and reported, never hidden
                errors += 1
                continue
            mine.append(time.perf_counter() - began)
    finally:
        connection.close()
    with lock:
        latencies.extend(mine)
        counters["deadlocks"] += deadlocks
        counters["errors"] += errors


def _percentile(sorted_values: list[float], fraction: float) -> float:
    if not sorted_values:
        return float("nan")
    return sorted_values[min(len(sorted_values) - 1, int(fraction * len(sorted_values)))]


def scenario(organizations, threads: int) -> dict:
    latencies: list[float] = []
    counters = {"deadlocks": 0, "errors": 0}
    lock, start = threading.Lock(), threading.Barrier(threads + 1)
    deadline = time.perf_counter() + SECONDS + 0.05
    workers = [threading.Thread(target=_worker, args=(organizations, deadline, latencies,
                                                      counters, lock, start))
               for _ in range(threads)]
    for worker in workers:
        worker.start()
    began = time.perf_counter()
    start.wait()
    for worker in workers:
        worker.join()
    elapsed = time.perf_counter() - began
    latencies.sort()
    return {"pairs": len(latencies), "per_second": len(latencies) / elapsed,
            "p50_ms": _percentile(latencies, 0.50) * 1000,
            "p99_ms": _percentile(latencies, 0.99) * 1000,
            "max_ms": (latencies[-1] if latencies else float("nan")) * 1000, **counters}


def run() -> str:
    run_id = uuid.uuid4().hex[:8]
    hot = _organizations(1, f"{run_id}-hot")
    spread = _organizations(1000, f"{run_id}-spread")
    rows = ["| wallets | threads | pairs | pairs/s | p50 ms | p99 ms | max ms | deadlocks | "
            "errors |", "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for label, wallets, threads in SCENARIOS:
        result = scenario(hot if wallets == 1 else spread, threads)
        rows.append(f"| {label} | {threads} | {result['pairs']:,} | {result['per_second']:,.0f} "
                    f"| {result['p50_ms']:.2f} | {result['p99_ms']:.2f} | "
                    f"{result['max_ms']:.2f} | {result['deadlocks']} | {result['errors']} |")
        print(rows[-1], flush=True)
    problems = wallet_discrepancies()
    rows.append("")
    rows.append(f"Each pair is `reservation_open` + `reservation_capture` (one SQL statement "
                f"each, one ledger entry), threads with their own connections, {SECONDS:.0f} s "
                f"per row. Reconcile afterwards: "
                + ("every wallet matches its ledger." if not problems
                   else f"**{len(problems)} wallet(s) disagree**."))
    return "\n".join(rows)
