"""Bad input is refused in the native shape; the OpenAPI schema and docs are served offline."""

import json

import pytest

from config.netguard import UnsafeUrl, url_assert_public, url_pin
from generation.models import GenerationJob
from tests.native.conftest import PRO


def test_oversized_prompt_is_413(owner, submit, settings):
    settings.MAX_PROMPT_CHARS = 100
    response = submit(owner, model=PRO, prompt="x" * 101)
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "prompt_too_long"


def test_oversized_json_body_is_413_and_writes_nothing(owner, settings):
    settings.MAX_JSON_BODY_BYTES = 2048
    body = json.dumps({"model": PRO, "prompt": "x" * 4000})
    response = owner.api.post("/api/v1/generations", body, content_type="application/json")
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "body_too_large"
    assert not GenerationJob.objects.exists()


def test_malformed_json_is_a_native_400(owner):
    response = owner.api.post("/api/v1/generations", "{nope", content_type="application/json")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "parse_error"


@pytest.mark.parametrize("url", ["http://127.0.0.1/", "http://[::ffff:127.0.0.1]/",
                                 "http://100.64.0.1/", "http://0.0.0.0/", "http://user:pw@8.8.8.8/",
                                 "https://no-such-host.invalid/"])
def test_ssrf_guard_refuses_non_public_targets(url, settings):
    settings.ALLOW_PRIVATE_WEBHOOK_URLS = False
    with pytest.raises(UnsafeUrl):
        url_assert_public(url)


def test_ssrf_guard_allows_public_addresses_and_the_development_switch(settings):
    assert url_assert_public("https://8.8.8.8/hook") == ["8.8.8.8"]
    settings.ALLOW_PRIVATE_WEBHOOK_URLS = True
    assert url_assert_public("http://127.0.0.1:8000/") == ["127.0.0.1"]


def test_openapi_schema_describes_the_native_api(owner):
    response = owner.api.get("/api/v1/schema", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    schema = json.loads(response.content)
    paths = schema["paths"]
    for path in ("/api/v1/generations", "/api/v1/generations/{job_id}/cancel",
                 "/api/v1/batches", "/api/v1/webhooks", "/api/v1/wallet"):
        assert path in paths, path
    parameters = {p["name"] for p in paths["/api/v1/generations"]["post"]["parameters"]}
    assert "Idempotency-Key" in parameters
    listing = {p["name"] for p in paths["/api/v1/generations"]["get"]["parameters"]}
    assert {"cursor", "limit", "status", "brand", "created_after"} <= listing


def test_docs_page_uses_local_assets_only(client, owner):
    client.force_login(owner.user)
    page = client.get("/api/docs")
    assert page.status_code == 200
    html = page.content.decode()
    assert "swagger-ui" in html
    assert "cdn" not in html.lower() and "https://" not in html
    bundle = "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js"
    assert bundle in html
    assert client.get(bundle).status_code == 200
    assert client.get("/api/redoc").status_code == 200


def test_pinning_connects_to_the_checked_address_and_keeps_the_name(settings):
    settings.ALLOW_PRIVATE_WEBHOOK_URLS = True
    target = url_pin("https://localhost:8443/hooks?x=1")
    assert target.url in ("https://127.0.0.1:8443/hooks?x=1", "https://[::1]:8443/hooks?x=1")
    assert target.headers == {"host": "localhost:8443"}
    assert target.extensions == {"sni_hostname": "localhost"}
    plain = url_pin("http://127.0.0.1/")
    assert (plain.url, plain.headers, plain.extensions) == ("http://127.0.0.1/",
                                                           {"host": "127.0.0.1"}, {})
