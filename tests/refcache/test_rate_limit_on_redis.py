"""The per-key requests-per-minute limit counts every request once on Redis (production), the
window's first request included, and refuses past the limit with a Retry-After."""

import uuid

import pytest

from config.ratelimit import RateLimited, rate_check


def test_the_limit_counts_each_request_once_per_window(shared_cache):
    identity = f"key:{uuid.uuid4()}"
    start = 1_800_000_000.0  # the start of a window

    rate_check(identity=identity, limit=2, now=start)
    rate_check(identity=identity, limit=2, now=start + 1)
    with pytest.raises(RateLimited) as refused:
        rate_check(identity=identity, limit=2, now=start + 2)
    assert refused.value.headers == {"Retry-After": "58"}

    rate_check(identity=identity, limit=2, now=start + 60)  # a new window starts again at one
    rate_check(identity=identity, limit=2, now=start + 61)
    with pytest.raises(RateLimited):
        rate_check(identity=identity, limit=2, now=start + 62)
