"""Helpers for tests and benchmarks that start the platform as real processes."""

import socket
import time

import httpx


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until_serving(base: str, *, attempts: int = 200) -> None:
    """Poll `{base}/healthz` until the server answers (a bound on start-up, not a speed check)."""
    for _ in range(attempts):
        try:
            httpx.get(f"{base}/healthz", timeout=1)
            return
        except httpx.TransportError:
            time.sleep(0.1)
    raise RuntimeError(f"{base} did not start")
