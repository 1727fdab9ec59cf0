"""API keys: shown once, stored hashed, and refused clearly when revoked, expired or unknown."""

from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.models import ApiKey
from accounts.services import api_key_create, api_key_revoke, brand_create, hash_api_key
from generation.models import GenerationJob
from tests.conftest import Actor


def call(secret, header="HTTP_AUTHORIZATION"):
    client = APIClient()
    value = f"Bearer {secret}" if header == "HTTP_AUTHORIZATION" else secret
    return client.post("/api/v1/generations", {"prompt": "x"}, format="json", **{header: value})


def test_only_the_hash_of_a_key_is_stored(owner):
    key = ApiKey.objects.get(organization=owner.organization, name="owner key")
    assert owner.api_key.startswith("atl_") and key.prefix == owner.api_key[:12]
    assert key.secret_hash == hash_api_key(owner.api_key)
    assert owner.api_key not in key.secret_hash


@pytest.mark.parametrize("header", ["HTTP_AUTHORIZATION", "HTTP_X_GOOG_API_KEY"])
def test_revoked_key_is_refused_with_a_stable_code(owner, header):
    key = ApiKey.objects.get(organization=owner.organization, name="owner key")
    api_key_revoke(api_key=key)

    response = call(owner.api_key, header)

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "api_key_revoked"
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert GenerationJob.objects.count() == 0


def test_expired_key_is_refused(owner):
    _, secret = api_key_create(organization=owner.organization, name="old",
                               expires_at=timezone.now() - timedelta(seconds=1))
    response = call(secret)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "api_key_expired"


def test_unknown_key_and_missing_credentials(db):
    assert call("atl_not-a-real-key").json()["error"]["code"] == "invalid_api_key"
    anonymous = APIClient().get("/api/v1/wallet")
    assert anonymous.status_code == 401
    assert anonymous.json()["error"]["code"] == "not_authenticated"


def test_suspended_organization_keys_get_a_clear_error(owner):
    owner.organization.suspended_at = timezone.now()
    owner.organization.save()
    response = owner.api.get("/api/v1/wallet")
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "organization_suspended"


def test_key_without_generate_scope_cannot_submit(owner):
    _, secret = api_key_create(organization=owner.organization, name="reader", scopes=["read"])
    response = call(secret)
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "insufficient_scope"


def test_last_used_is_recorded(owner):
    key = ApiKey.objects.get(organization=owner.organization, name="owner key")
    assert key.last_used_at is None
    owner.api.get("/api/v1/wallet")
    key.refresh_from_db()
    assert key.last_used_at is not None


def test_brand_bound_key_sees_only_its_brand(owner, submit):
    other_brand = brand_create(organization=owner.organization, name="Second Client")
    _, bound_secret = api_key_create(organization=owner.organization, name="bound",
                                     brand=other_brand)
    bound = Actor(owner.user, owner.organization, bound_secret)
    unbranded = submit(owner, prompt="for the house brand").json()
    mine = submit(bound, prompt="for the second client").json()

    assert mine["brand"] == str(other_brand.pk)
    assert bound.api.get(f"/api/v1/generations/{unbranded['id']}").status_code == 404
    assert owner.api.get(f"/api/v1/generations/{mine['id']}").status_code == 200
    house = str(owner.organization.brands.exclude(pk=other_brand.pk).get().pk)
    assert submit(bound, prompt="x", brand=house).status_code == 404
