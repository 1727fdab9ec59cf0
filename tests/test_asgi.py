"""The ASGI application uvicorn serves: key-only surfaces skip the browser middleware, the rest
of the site keeps it."""

import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from asgiref.sync import async_to_sync

from config.asgi import application
from tests.conftest import make_tenant

ROOT = Path(__file__).resolve().parent.parent

# Transactional (the app runs the views' database calls on other threads) with serialized
# rollback, like every transactional test here: a plain flush would recreate content types that
# the next serialized-rollback test then restores a second time.


def _get(path: str, **headers) -> httpx.Response:
    async def go():
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url="http://localhost") as client:
            return await client.get(path, headers=headers)

    return async_to_sync(go)()


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_compatible_surfaces_answer_without_browser_middleware():
    actor = make_tenant("Asgi Agency", "asgi@agency.test")

    response = _get("/v1/models", authorization=f"Bearer {actor.api_key}")

    assert response.status_code == 200
    assert {model["id"] for model in response.json()["data"]} >= {"gemini-2.5-flash-image"}
    # SecurityMiddleware's headers are still sent...
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "same-origin"
    # ...but nothing from the session, CSRF or clickjacking middleware.
    assert "set-cookie" not in response.headers
    assert "x-frame-options" not in response.headers
    assert "cookie" not in response.headers.get("vary", "").lower()


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_compatible_surface_errors_keep_their_shape_on_the_lean_handler():
    response = _get("/v1beta/models", **{"x-goog-api-key": "not-a-key"})

    assert response.status_code == 401
    assert response.json()["error"]["status"] == "UNAUTHENTICATED"
    assert response.headers["x-content-type-options"] == "nosniff"


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_the_rest_of_the_site_keeps_the_full_middleware_stack():
    response = _get("/login/")

    assert response.status_code == 200
    assert response.headers["x-frame-options"] == "DENY"
    assert "csrftoken" in response.headers.get("set-cookie", "")


def test_the_web_server_pools_connections_without_passing_pooling_to_its_children(db):
    # A worker cluster started from a process that loaded the app must not inherit the web
    # server's pool: django-q2 forks its workers, and they would share its pooled sockets.
    from tests.upstream.processes import database_url

    env = {key: value for key, value in os.environ.items() if key != "DATABASE_POOL_MAX"}
    env |= {"DATABASE_URL": database_url(), "DJANGO_SETTINGS_MODULE": "config.settings"}
    script = ("import os, config.asgi; from django.conf import settings; "
              "print(settings.DATABASES['default']['OPTIONS']['pool']['max_size'], "
              "os.environ.get('DATABASE_POOL_MAX'))")
    run = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=60)

    assert run.returncode == 0, run.stderr
    assert run.stdout.split() == ["20", "None"]
