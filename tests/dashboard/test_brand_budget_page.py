"""A brand's monthly budget on its page: set, change, remove, and spend this month shown."""

from accounts.services import brand_create
from billing.models import SpendCap


def test_owner_sets_changes_and_removes_a_monthly_budget(owner, owner_client, submit,
                                                         run_queued_jobs):
    brand = brand_create(organization=owner.organization, name="Acme Soda")
    submit(owner, prompt="a can", image_size="2K", brand=str(brand.pk))
    run_queued_jobs()
    url = f"/app/brands/{brand.pk}/"

    page = owner_client.post(url, {"action": "budget", "limit": "50"}, follow=True).content.decode()
    assert "Monthly budget of “Acme Soda” set to $50.00." in page
    assert "$0.134</strong> of $50.00 spent or held this month" in page
    assert "$0.134 of $50.00" in owner_client.get("/app/brands/").content.decode()

    owner_client.post(url, {"action": "budget", "limit": "0.10"})
    assert SpendCap.objects.get(brand=brand).limit == 100_000
    refused = submit(owner, prompt="another", brand=str(brand.pk))
    assert refused.status_code == 402
    assert refused.json()["error"]["code"] == "brand_budget_exceeded"

    owner_client.post(url, {"action": "budget_remove"})
    assert not SpendCap.objects.filter(brand=brand).exists()
    assert submit(owner, prompt="again", brand=str(brand.pk)).status_code == 202


def test_a_bad_amount_is_refused_with_a_message(owner, owner_client):
    brand = brand_create(organization=owner.organization, name="Acme Soda")
    page = owner_client.post(f"/app/brands/{brand.pk}/", {"action": "budget", "limit": "lots"},
                             follow=True).content.decode()
    assert "must be a number of US dollars" in page
    assert not SpendCap.objects.exists()


def test_viewers_see_the_budget_but_cannot_change_it_and_outsiders_get_404(
        owner, viewer_client, member_client, outsider_client):
    brand = brand_create(organization=owner.organization, name="Acme Soda")
    SpendCap.objects.create(brand=brand, limit=50_000_000)

    assert "$0.00 of $50.00" in viewer_client.get("/app/brands/").content.decode()
    for client in (viewer_client, member_client):
        assert client.post(f"/app/brands/{brand.pk}/",
                           {"action": "budget_remove"}).status_code == 403
    assert outsider_client.post(f"/app/brands/{brand.pk}/",
                                {"action": "budget_remove"}).status_code == 404
    assert SpendCap.objects.filter(brand=brand).exists()
