"""Every native endpoint against every kind of caller.

owner (all scopes), member (generate + read), viewer (signed-in, read only), outsider (another
organization: foreign ids are 404), a key bound to another brand (404 for this brand's jobs and
batches; refused for organization-wide webhooks), a revoked key and an expired key (401).
"""

from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.models import Scope
from accounts.services import api_key_create, api_key_revoke, brand_create
from generation.webhooks.models import WebhookDelivery
from tests.native.conftest import FLASH, client_for

ACTORS = ("owner", "member", "viewer", "outsider", "other_brand", "revoked", "expired")


@pytest.fixture
def world(owner, member, viewer, outsider, settings, django_capture_on_commit_callbacks):
    settings.ALLOW_PRIVATE_WEBHOOK_URLS = True
    acme = brand_create(organization=owner.organization, name="Acme")
    globex = brand_create(organization=owner.organization, name="Globex")
    _, acme_secret = api_key_create(organization=owner.organization, name="acme",
                                    scopes=list(Scope.values), brand=acme)
    _, globex_secret = api_key_create(organization=owner.organization, name="globex",
                                      scopes=list(Scope.values), brand=globex)
    revoked, revoked_secret = api_key_create(organization=owner.organization, name="old",
                                             scopes=list(Scope.values))
    api_key_revoke(api_key=revoked)
    _, expired_secret = api_key_create(organization=owner.organization, name="expired",
                                       scopes=list(Scope.values),
                                       expires_at=timezone.now() - timedelta(minutes=1))
    acme_api = client_for(acme_secret)
    clients = {"owner": owner.api, "member": member.api, "viewer": viewer,
               "outsider": outsider.api, "other_brand": client_for(globex_secret),
               "revoked": client_for(revoked_secret), "expired": client_for(expired_secret)}

    def post(client, path, payload=None):
        with django_capture_on_commit_callbacks(execute=True):
            return client.post(path, payload or {}, format="json")

    def job():
        return post(acme_api, "/api/v1/generations", {"model": FLASH, "prompt": "x"}).json()["id"]

    def batch():
        return post(acme_api, "/api/v1/batches",
                    {"requests": [{"model": FLASH, "prompt": "x"}]}).json()["id"]

    def endpoint():
        return post(owner.api, "/api/v1/webhooks", {"url": "http://127.0.0.1:9/hook"}).json()["id"]

    def delivery():
        endpoint_id = endpoint()
        post(owner.api, f"/api/v1/webhooks/{endpoint_id}/test")
        return WebhookDelivery.objects.get(endpoint_id=endpoint_id).pk

    return {"clients": clients, "post": post, "job": job, "batch": batch,
            "endpoint": endpoint, "delivery": delivery}


def _expect(allowed: int, *, viewer=None, outsider=None, other_brand=None, member=None):
    expected = dict.fromkeys(ACTORS, allowed)
    expected.update(revoked=401, expired=401)
    for actor, status in (("viewer", viewer), ("outsider", outsider),
                          ("other_brand", other_brand), ("member", member)):
        if status is not None:
            expected[actor] = status
    return expected


JOB_BODY = {"model": FLASH, "prompt": "x"}
HOOK_BODY = {"url": "http://127.0.0.1:9/hook"}
MATRIX = [
    ("post", "/api/v1/generations", None, JOB_BODY, _expect(202, viewer=403)),
    ("get", "/api/v1/generations", None, None, _expect(200)),
    ("get", "/api/v1/generations/{}", "job", None, _expect(200, outsider=404, other_brand=404)),
    ("post", "/api/v1/generations/{}/cancel", "job", None,
     _expect(200, viewer=403, outsider=404, other_brand=404)),
    ("get", "/api/v1/wallet", None, None, _expect(200)),
    ("get", "/api/v1/ledger", None, None, _expect(200)),
    ("post", "/api/v1/batches", None, {"requests": [JOB_BODY]}, _expect(202, viewer=403)),
    ("get", "/api/v1/batches", None, None, _expect(200)),
    ("get", "/api/v1/batches/{}", "batch", None, _expect(200, outsider=404, other_brand=404)),
    ("post", "/api/v1/batches/{}/cancel", "batch", None,
     _expect(200, viewer=403, outsider=404, other_brand=404)),
    ("get", "/api/v1/dedupe", None, None, _expect(200)),
    ("put", "/api/v1/dedupe", None, {"enabled": True},
     _expect(200, member=403, viewer=403)),
    ("get", "/api/v1/webhooks", None, None, _expect(200, member=403, viewer=403, other_brand=403)),
    ("post", "/api/v1/webhooks", None, HOOK_BODY,
     _expect(201, member=403, viewer=403, other_brand=403)),
    ("get", "/api/v1/webhooks/{}", "endpoint", None,
     _expect(200, member=403, viewer=403, outsider=404, other_brand=403)),
    ("patch", "/api/v1/webhooks/{}", "endpoint", {"enabled": False},
     _expect(200, member=403, viewer=403, outsider=404, other_brand=403)),
    ("delete", "/api/v1/webhooks/{}", "endpoint", None,
     _expect(204, member=403, viewer=403, outsider=404, other_brand=403)),
    ("post", "/api/v1/webhooks/{}/test", "endpoint", None,
     _expect(202, member=403, viewer=403, outsider=404, other_brand=403)),
    ("post", "/api/v1/webhooks/{}/rotate-secret", "endpoint", None,
     _expect(200, member=403, viewer=403, outsider=404, other_brand=403)),
    ("get", "/api/v1/webhooks/{}/deliveries", "endpoint", None,
     _expect(200, member=403, viewer=403, outsider=404, other_brand=403)),
    ("post", "/api/v1/webhooks/deliveries/{}/resend", "delivery", None,
     _expect(202, member=403, viewer=403, outsider=404, other_brand=403)),
]


@pytest.mark.parametrize(("method", "path", "target", "body", "expected"), MATRIX,
                         ids=[f"{m.upper()} {p}" for m, p, *_ in MATRIX])
def test_endpoint_answers_each_caller_as_expected(world, method, path, target, body, expected):
    seen = {}
    for actor in ACTORS:
        url = path.format(world[target]()) if target else path
        client = world["clients"][actor]
        if method == "post":
            response = world["post"](client, url, body)
        elif method in ("patch", "put"):
            response = getattr(client, method)(url, body, format="json")
        else:
            response = getattr(client, method)(url)
        seen[actor] = response.status_code
    assert seen == expected
