"""Redis mode: a dispatch loop that is half full asks, once, for another loop (a dispatch task
for an idle worker process), so that new jobs never wait for a loop to start while the only
running one fills up."""

import os

import pytest
from django_q.brokers import get_broker
from django_q.signing import SignedPackage

from generation.dispatch import dispatch_due_jobs
from generation.models import GenerationJob, JobStatus

PRO = "gemini-3-pro-image-preview"


@pytest.fixture
def redis_mode(settings):
    url = os.environ.get("TEST_REDIS_URL")
    if not url:
        pytest.fail("TEST_REDIS_URL is not set: run the suite with `make test`.")
    settings.REDIS_URL = url
    settings.WORKER_CONCURRENCY = 4


def _queued_tasks() -> list[str]:
    broker, funcs = get_broker(), []
    while batch := broker.dequeue():
        for ack_id, payload in batch:
            funcs.append(SignedPackage.loads(payload)["func"])
            broker.acknowledge(ack_id)
    return funcs


@pytest.mark.parametrize(("jobs", "asked"), [(1, []), (2, ["generation.tasks.dispatch_jobs"]),
                                             (4, ["generation.tasks.dispatch_jobs"])])
def test_a_half_full_loop_asks_once_for_another(owner, gemini_channel, submit, redis_mode,
                                                jobs, asked):
    for index in range(jobs):
        assert submit(owner, model=PRO, prompt=f"poster {index}").status_code == 202
    _queued_tasks()  # the jobs' own tasks (no loop was running): this test runs the loop itself

    assert dispatch_due_jobs() == jobs

    assert set(GenerationJob.objects.values_list("status", flat=True)) == {JobStatus.SUCCEEDED}
    assert _queued_tasks() == asked
