"""Staff manage channels in the admin: the key goes in once and is stored encrypted, never shown
back; customers (even organization owners) cannot reach the page."""

from django.test import Client

from accounts.models import User
from generation.models import Channel


def staff_client() -> Client:
    staff = User.objects.create_user(email="ops@atelier.test", password="x" * 20, is_staff=True,
                                     is_superuser=True)
    client = Client()
    client.force_login(staff)
    return client


def form(**overrides) -> dict:
    return {"name": "eu-gemini", "provider": "gemini", "base_url": "https://gemini.example",
            "secret": "AIza-admin-typed", "options": "{}", "served_models": "[]",
            "priority": "5", "weight": "2", "rpm_limit": "60", "concurrency_limit": "10",
            "timeout_seconds": "90", "enabled": "on", "disabled_reason": "", **overrides}


def test_staff_add_a_channel_and_its_key_is_stored_encrypted(db):
    client = staff_client()
    response = client.post("/admin/generation/channel/add/", form())
    assert response.status_code == 302, response.content[:2000]

    channel = Channel.objects.get(name="eu-gemini")
    assert channel.secret == "AIza-admin-typed"
    assert "AIza-admin-typed" not in channel.secret_encrypted
    assert (channel.priority, channel.rpm_limit, channel.concurrency_limit) == (5, 60, 10)
    page = client.get(f"/admin/generation/channel/{channel.pk}/change/")
    assert b"AIza-admin-typed" not in page.content  # write-only


def test_leaving_the_key_blank_keeps_the_current_one(db):
    client = staff_client()
    client.post("/admin/generation/channel/add/", form())
    channel = Channel.objects.get(name="eu-gemini")
    client.post(f"/admin/generation/channel/{channel.pk}/change/", form(secret="", priority="7"))
    channel.refresh_from_db()
    assert (channel.priority, channel.secret) == (7, "AIza-admin-typed")


def test_customers_cannot_reach_the_channel_admin(owner):
    client = Client()
    client.force_login(owner.user)
    response = client.get("/admin/generation/channel/")
    assert response.status_code == 302 and "/admin/login/" in response["location"]
