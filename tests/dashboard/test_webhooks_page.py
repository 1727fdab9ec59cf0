"""The webhooks page: endpoints with an event filter, the secret shown once and rotated,
enable/disable, delete, test ping, the delivery log and resend. Owners and admins only."""

import pytest

from generation.webhooks.models import WebhookDelivery, WebhookEndpoint

HOOK = "http://127.0.0.1:9/atelier-hook"


@pytest.fixture(autouse=True)
def _local_receivers(settings):
    settings.ALLOW_PRIVATE_WEBHOOK_URLS = True


def _create(client, **extra):
    return client.post("/app/webhooks/", {"url": HOOK, "description": "CI",
                                          "event_types": ["generation.succeeded",
                                                          "generation.failed"], **extra})


def test_create_shows_the_secret_once_then_rotate_shows_a_new_one(owner, owner_client):
    created = _create(owner_client).content.decode()
    endpoint = WebhookEndpoint.objects.get(organization=owner.organization)
    assert endpoint.secret.startswith("whsec_") and endpoint.secret in created
    assert endpoint.event_types == ["generation.failed", "generation.succeeded"]

    detail = owner_client.get(f"/app/webhooks/{endpoint.pk}/").content.decode()
    assert endpoint.secret not in detail
    assert endpoint.url in owner_client.get("/app/webhooks/").content.decode()

    rotated = owner_client.post(f"/app/webhooks/{endpoint.pk}/", {"action": "rotate"})
    endpoint.refresh_from_db()
    assert endpoint.secret in rotated.content.decode()
    assert endpoint.previous_secret and endpoint.previous_secret not in rotated.content.decode()


def test_a_private_or_bad_url_is_refused_with_a_message(owner_client, settings):
    settings.ALLOW_PRIVATE_WEBHOOK_URLS = False
    page = _create(owner_client).content.decode()
    assert "non-public address" in page
    assert "not a url" in owner_client.post("/app/webhooks/", {"url": "not a url"}).content.decode() \
        or not WebhookEndpoint.objects.exists()
    assert not WebhookEndpoint.objects.exists()


def test_disable_enable_filter_test_ping_resend_and_delete(owner, owner_client):
    _create(owner_client)
    endpoint = WebhookEndpoint.objects.get()
    url = f"/app/webhooks/{endpoint.pk}/"

    owner_client.post(url, {"action": "disable"})
    endpoint.refresh_from_db()
    assert not endpoint.enabled
    owner_client.post(url, {"action": "enable"})
    owner_client.post(url, {"action": "events", "event_types": ["wallet.low_balance"]})
    endpoint.refresh_from_db()
    assert endpoint.enabled and endpoint.event_types == ["wallet.low_balance"]

    page = owner_client.post(url, {"action": "test"}, follow=True).content.decode()
    ping = WebhookDelivery.objects.get(endpoint=endpoint)
    assert "webhook.test" in page and ping.message.event_type == "webhook.test"
    owner_client.post(url, {"action": "resend", "delivery": str(ping.pk)})
    deliveries = WebhookDelivery.objects.filter(endpoint=endpoint)
    assert deliveries.count() == 2 and {d.message_id for d in deliveries} == {ping.message_id}

    owner_client.post(url, {"action": "delete"})
    assert not WebhookEndpoint.objects.exists()


def test_viewers_members_and_outsiders_cannot_see_or_touch_endpoints(
        owner_client, viewer_client, member_client, outsider_client):
    _create(owner_client)
    endpoint = WebhookEndpoint.objects.get()
    url = f"/app/webhooks/{endpoint.pk}/"
    for client in (viewer_client, member_client):
        assert client.get("/app/webhooks/").status_code == 403
        assert _create(client).status_code == 403
        assert client.post(url, {"action": "delete"}).status_code == 403
        assert "Webhooks" not in client.get("/app/").content.decode()
    assert outsider_client.get(url).status_code == 404
    assert outsider_client.post(url, {"action": "delete"}).status_code == 404
    assert endpoint.url not in outsider_client.get("/app/webhooks/").content.decode()
    assert WebhookEndpoint.objects.count() == 1


def test_resending_another_endpoints_delivery_is_404(owner, owner_client, outsider,
                                                     outsider_client):
    _create(owner_client)
    _create(outsider_client)
    mine = WebhookEndpoint.objects.get(organization=owner.organization)
    theirs = WebhookEndpoint.objects.get(organization=outsider.organization)
    outsider_client.post(f"/app/webhooks/{theirs.pk}/", {"action": "test"})
    foreign = WebhookDelivery.objects.get(endpoint=theirs)

    response = owner_client.post(f"/app/webhooks/{mine.pk}/",
                                 {"action": "resend", "delivery": str(foreign.pk)})

    assert response.status_code == 404
    assert WebhookDelivery.objects.count() == 1
