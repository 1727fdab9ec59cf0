"""Benchmark: how long does POST /api/v1/batches take for 1,000 requests?

    SECRET_KEY=bench .venv/bin/python scripts/with_postgres.py -- \
        .venv/bin/python -m bench.batch_submit

Runs against the throwaway PostgreSQL that with_postgres starts (never a real database): migrates
it, makes a tenant with enough credit, then submits batches of 10, 100 and 1,000 requests through
the real API client (validation, quotes, one reservation per job, bulk inserts, one queued task
per job on the ORM broker). Prints a Markdown table; nothing here is asserted.
"""

import os
import statistics
import time


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection
    from rest_framework.test import APIClient

    from accounts.models import Scope, User
    from accounts.services import api_key_create, organization_create
    from billing.models import Wallet

    assert "127.0.0.1" in str(connection.settings_dict.get("HOST")), "bench needs with_postgres"
    settings.ALLOWED_HOSTS = ["*"]
    settings.RATE_LIMIT_PER_KEY_RPM = 10**6
    call_command("migrate", verbosity=0)
    user = User.objects.create_user(email="bench@example.test", password="bench-password-x")
    organization = organization_create(name="Bench", owner=user, signup_credits=0)
    Wallet.objects.filter(organization=organization).update(balance=10**12)
    _, secret = api_key_create(organization=organization, name="bench",
                               scopes=list(Scope.values))
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")

    rows = []
    for size in (10, 100, 1000):
        timings = []
        for run in range(3):
            body = {"requests": [{"model": "gemini-2.5-flash-image", "prompt": f"bench {run} {i}"}
                                 for i in range(size)]}
            started = time.perf_counter()
            response = client.post("/api/v1/batches", body, format="json")
            timings.append(time.perf_counter() - started)
            assert response.status_code == 202, response.content
        rows.append((size, statistics.median(timings), max(timings)))
    print("| requests per batch | median (s) | max (s) |")
    print("| ---: | ---: | ---: |")
    for size, median, worst in rows:
        print(f"| {size} | {median:.2f} | {worst:.2f} |")


if __name__ == "__main__":
    main()
