"""Reference data that changes rarely (prices, pre-filter rules, an organization's pricing
terms), read once per process and reused until its version stamp changes.

A stamp is a random token in the shared Django cache (Redis). Every write to the data bumps its
stamp twice: at once (the writing process sees its own change at once) and again after the
write commits (a process that reloaded in between, still reading the old rows, reloads again).
A reader takes the stamps it needs in one round trip (`snapshot`), and reuses what it loaded
under the same stamp; a missing stamp (evicted, flushed cache) never matches anything.

Stamps only mean something when every process sees the same cache. With a per-process cache
(the embedded default's locmem, several processes) nothing is memoized: every read goes to the
database, exactly as without this module.
"""

import contextvars
import uuid
from collections.abc import Callable, Iterable
from contextlib import contextmanager

from django.core.cache import caches
from django.core.cache.backends.dummy import DummyCache
from django.core.cache.backends.locmem import LocMemCache
from django.db import transaction

_PREFIX = "refstamp:"
_MAX_ENTRIES = 20_000  # per-organization entries; dropped wholesale past this (cheap to reload)

_memo: dict[str, tuple[str, object]] = {}
_snapshot: contextvars.ContextVar[dict | None] = contextvars.ContextVar("refstamps", default=None)


def enabled() -> bool:
    """True when the cache is shared by every process, so a stamp bumped anywhere is seen here."""
    return not isinstance(_default_cache(), (LocMemCache, DummyCache))


def _default_cache():
    return caches["default"]


def _read(names: Iterable[str]) -> dict[str, str]:
    keys = [_PREFIX + name for name in names]
    found = _default_cache().get_many(keys)
    missing = [key for key in keys if key not in found]
    for key in missing:
        _default_cache().add(key, uuid.uuid4().hex, None)
    if missing:
        found.update(_default_cache().get_many(missing))
    return {key.removeprefix(_PREFIX): value for key, value in found.items()}


@contextmanager
def snapshot(*names: str):
    """Read the stamps of `names` in one cache round trip for the reads inside the block."""
    outer = _snapshot.get() or {}
    missing = [name for name in names if name not in outer]
    if not enabled() or not missing:  # nested in a snapshot that has them all: reuse it
        yield
        return
    token = _snapshot.set({**outer, **_read(missing)})
    try:
        yield
    finally:
        _snapshot.reset(token)


def _stamp(name: str) -> str | None:
    taken = _snapshot.get()
    if taken is not None and name in taken:
        return taken[name]
    return _read([name]).get(name)


def cached(name: str, load: Callable[[], object], *, key: str | None = None):
    """`load()`, or what it returned earlier in this process under the same stamp of `name`.
    `key` distinguishes several values under one stamp (defaults to `name`)."""
    if not enabled():
        return load()
    stamp = _stamp(name)
    key = key or name
    held = _memo.get(key)
    if stamp is not None and held is not None and held[0] == stamp:
        return held[1]
    value = load()
    if stamp is not None:
        if len(_memo) >= _MAX_ENTRIES:
            _memo.clear()
        _memo[key] = (stamp, value)
    return value


def bump(*names: str) -> None:
    """Mark the data of `names` changed: now, and again once the current transaction commits."""
    if not enabled():
        return

    def new_stamps():
        _default_cache().set_many({_PREFIX + name: uuid.uuid4().hex for name in names}, None)

    new_stamps()
    transaction.on_commit(new_stamps)


def forget() -> None:
    """Drop everything this process memoized (tests switching databases or caches)."""
    _memo.clear()
