"""The ASGI application uvicorn serves: key-only surfaces skip the browser middleware, the rest
of the site keeps it."""

import httpx
import pytest
from asgiref.sync import async_to_sync

from config.asgi import application
from tests.conftest import make_tenant

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
