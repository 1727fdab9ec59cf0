"""The shared cache (Redis, as in production) that turns on memoized reference data."""

import os

import pytest

from config import refcache


@pytest.fixture
def shared_cache(settings, db):
    url = os.environ.get("TEST_REDIS_URL")
    if not url:
        pytest.fail("TEST_REDIS_URL is not set: run the suite with `make test`.")
    settings.CACHES = {"default": {"BACKEND": "config.cache.SharedRedisCache",
                                   "LOCATION": url}}
    refcache.forget()  # nothing memoized from another test's (rolled back) rows
    assert refcache.enabled()
    yield
    refcache.forget()
