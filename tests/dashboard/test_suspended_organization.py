"""A suspended organization is refused to browser sessions too: every dashboard page and every
API call made with the session say so, as the API-key path already does."""

from django.utils import timezone

from accounts.models import Organization
from accounts.services import organization_create


def _suspend(organization):
    Organization.objects.filter(pk=organization.pk).update(suspended_at=timezone.now())


def test_dashboard_pages_refuse_a_suspended_organization(owner, owner_client):
    _suspend(owner.organization)

    for path in ["/app/", "/app/billing/", "/app/gallery/", "/app/playground/", "/app/keys/"]:
        response = owner_client.get(path)
        assert response.status_code == 403, path
        assert "is suspended; contact support" in response.content.decode()
    refused = owner_client.post("/app/playground/submit", {"prompt": "a cat"})
    assert refused.status_code == 403
    assert refused.json()["error"]["message"].endswith("is suspended; contact support.")


def test_session_api_calls_refuse_a_suspended_organization(owner, owner_client):
    assert owner_client.get("/api/v1/wallet").status_code == 200
    _suspend(owner.organization)

    response = owner_client.get("/api/v1/wallet")

    assert response.status_code == 403
    assert response.json()["error"]["code"] == "organization_suspended"
    assert "suspended" in response.json()["error"]["message"]


def test_a_person_in_another_organization_can_switch_away(owner, owner_client):
    other = organization_create(name="Other Studio", owner=owner.user)
    _suspend(owner.organization)
    page = owner_client.get("/app/").content.decode()
    assert "Switch to another organization" in page

    owner_client.post("/app/organization", {"organization_id": str(other.pk)})

    assert owner_client.get("/app/").status_code == 200
    assert owner_client.get("/api/v1/wallet").status_code == 200


def test_the_outsider_is_unaffected(owner, outsider_client):
    _suspend(owner.organization)
    assert outsider_client.get("/app/billing/").status_code == 200
