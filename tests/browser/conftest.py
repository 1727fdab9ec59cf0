"""Browser fixtures: Debian's Chromium driven by Playwright against pytest-django's live server,
and a queue worker thread that runs generation jobs while a test clicks through the pages."""

import os
import threading

import pytest
from django.db import connection

from scripts.chromium import launch


@pytest.fixture(scope="session")
def migrated_rows(django_db_setup) -> str:
    """The rows migrations seed (price list, signup rule), as Django serialized them when it
    created the test database (the browser tests' `serialized_rollback` asks for that)."""
    return connection._test_serialized_contents


# Module scope: Playwright's loop must be gone before other modules' async tests (anyio) run.
@pytest.fixture(scope="module")
def browser(migrated_rows):
    from playwright.sync_api import sync_playwright

    # Playwright's sync API keeps an event loop in this thread; the ORM calls a test makes for
    # its setup are ordinary blocking calls, so Django's async-safety guard must stand aside.
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as playwright:
            # With Playwright's loop running, Django (through asgiref) hands this thread other
            # connection objects than the one that created the test database. Give them the
            # seeded rows, so `serialized_rollback` restores prices and signup rules after each
            # transactional flush.
            connection._test_serialized_contents = migrated_rows
            chromium = launch(playwright)
            yield chromium
            chromium.close()
    finally:
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture
def page(browser, live_server):
    context = browser.new_context(base_url=live_server.url, viewport={"width": 1280, "height": 900})
    context.grant_permissions(["clipboard-read", "clipboard-write"])
    page = context.new_page()
    page.set_default_timeout(20_000)
    yield page
    context.close()


@pytest.fixture
def queue_worker(transactional_db, run_queued_jobs):
    """Run queued django-q2 tasks in the background, like `qcluster` would, until the test ends."""
    stop = threading.Event()
    errors = []

    def work():
        try:
            while not stop.is_set():
                if not run_queued_jobs():
                    stop.wait(0.1)
        except Exception as error:  # noqa: BLE001 - reported by the fixture's teardown
            errors.append(error)
        finally:
            connection.close()

    worker = threading.Thread(target=work, name="queue-worker", daemon=True)
    worker.start()
    yield
    stop.set()
    worker.join(timeout=30)
    assert not errors, errors


def log_in(page, email: str, password: str = "correct horse battery") -> None:
    page.goto("/login/")
    page.fill("#id_username", email)
    page.fill("#id_password", password)
    page.click("button[type=submit]")
    page.wait_for_url("**/app/")
