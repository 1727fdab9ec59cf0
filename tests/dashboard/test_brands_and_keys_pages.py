"""Brands (create, edit, archive) and API keys (secret shown once, scopes, brand, expiry, revoke)."""

from rest_framework.test import APIClient

from accounts.models import ApiKey, Brand


def test_admin_creates_renames_archives_and_restores_a_brand(owner, owner_client):
    owner_client.post("/app/brands/", {"name": "Acme Soda"})
    brand = Brand.objects.get(organization=owner.organization, name="Acme Soda")

    owner_client.post(f"/app/brands/{brand.pk}/", {"action": "save", "name": "Acme Cola"})
    owner_client.post(f"/app/brands/{brand.pk}/", {"action": "archive"})
    brand.refresh_from_db()
    assert brand.name == "Acme Cola" and brand.archived_at is not None
    # An archived brand takes no new jobs.
    refused = owner.api.post("/api/v1/generations", {"prompt": "x", "brand": str(brand.pk)},
                             format="json")
    assert refused.status_code == 404

    owner_client.post(f"/app/brands/{brand.pk}/", {"action": "restore"})
    brand.refresh_from_db()
    assert brand.archived_at is None


def test_viewers_cannot_create_or_edit_brands_and_outsiders_cannot_see_them(
        owner, viewer_client, outsider_client):
    brand = Brand.objects.get(organization=owner.organization)
    viewer_client.post("/app/brands/", {"name": "Sneaky"})
    assert viewer_client.post(f"/app/brands/{brand.pk}/", {"action": "archive"}).status_code == 403
    assert outsider_client.get(f"/app/brands/{brand.pk}/").status_code == 404
    assert brand.name not in outsider_client.get("/app/brands/").content.decode()
    assert Brand.objects.filter(organization=owner.organization).count() == 1
    brand.refresh_from_db()
    assert brand.archived_at is None


def test_new_key_secret_is_shown_once_and_works_with_its_scopes_and_brand(owner, owner_client):
    brand = Brand.objects.get(organization=owner.organization)
    response = owner_client.post("/app/keys/", {"name": "ci", "scopes": ["read"],
                                                "brand": str(brand.pk), "expires_in_days": "30"})

    secret = response.context["secret"]
    assert secret in response.content.decode()
    key = ApiKey.objects.get(name="ci")
    assert (key.scopes, key.brand, key.expires_at is not None) == (["read"], brand, True)
    listing = owner_client.get("/app/keys/").content.decode()
    assert key.prefix in listing and secret not in listing

    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    assert api.get("/api/v1/wallet").status_code == 200
    assert api.post("/api/v1/generations", {"prompt": "x"}, format="json").status_code == 403
    assert "ago" in owner_client.get("/app/keys/").content.decode()  # last used

    owner_client.post(f"/app/keys/{key.pk}/revoke")
    assert api.get("/api/v1/wallet").status_code == 401


def test_only_owners_and_admins_reach_keys(owner, member_client, viewer_client, outsider_client):
    key = ApiKey.objects.get(organization=owner.organization, name="owner key")
    for client in (member_client, viewer_client):
        assert client.get("/app/keys/").status_code == 403
        assert client.post("/app/keys/", {"name": "x", "scopes": ["read"]}).status_code == 403
        assert client.post(f"/app/keys/{key.pk}/revoke").status_code == 403
    assert outsider_client.post(f"/app/keys/{key.pk}/revoke").status_code == 404
    key.refresh_from_db()
    assert key.revoked_at is None
    assert ApiKey.objects.filter(organization=owner.organization).count() == 2
