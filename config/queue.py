"""Queueing django-q2 tasks through one broker per process.

django-q2's `async_task` builds a new broker for every call unless it is given one: on the Redis
broker that is a new connection pool, hence a new TCP connection, for every task (about 4 ms on
each submit). One broker per process (redis-py reconnects by itself after a fork).
"""

import functools

from django_q.brokers import Broker, get_broker
from django_q.tasks import async_task


@functools.cache
def _broker() -> Broker:
    return get_broker()


def enqueue(func: str, *args, **kwargs) -> str:
    """`django_q.tasks.async_task` on this process's broker; returns the task id."""
    return async_task(func, *args, broker=_broker(), **kwargs)
