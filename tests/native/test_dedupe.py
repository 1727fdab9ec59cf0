"""The opt-in dedupe cache: identical requests within the window reuse the earlier images."""

from datetime import timedelta

from django.utils import timezone

from billing.models import EntryKind, LedgerEntry, Wallet
from generation.dedupe.services import dedupe_policy_set
from generation.models import GenerationJob
from tests.native.conftest import PRO


def balance(actor):
    return Wallet.objects.get(organization=actor.organization).balance


def test_without_opt_in_every_request_runs(owner, submit, work):
    submit(owner, model=PRO, prompt="same", seed=7)
    work()
    again = submit(owner, model=PRO, prompt="same", seed=7).json()
    assert again["cached"] is False and again["status"] == "queued"


def test_opted_in_identical_request_is_served_free_from_the_cache(owner, submit, work, client):
    dedupe_policy_set(organization=owner.organization, window_seconds=3600)
    first = submit(owner, model=PRO, prompt="same", seed=7, aspect_ratio="16:9").json()
    work()
    paid = balance(owner)

    again = submit(owner, model=PRO, prompt="same", seed=7, aspect_ratio="16:9")
    assert again.status_code == 202
    cached = again.json()
    assert (cached["cached"], cached["cached_from"], cached["status"]) == (True, first["id"],
                                                                         "succeeded")
    assert cached["id"] != first["id"] and cached["price"]["micros"] == 0
    assert balance(owner) == paid
    assert LedgerEntry.objects.filter(kind=EntryKind.CAPTURE).count() == 1
    download = client.get(cached["images"][0]["url"])
    assert download.status_code == 200

    # Any difference in the normalized request misses the cache.
    for change in ({"seed": 8}, {"aspect_ratio": "1:1"}, {"prompt": "other"},
                   {"image_size": "2K"}):
        payload = {"model": PRO, "prompt": "same", "seed": 7, "aspect_ratio": "16:9", **change}
        assert submit(owner, **payload).json()["cached"] is False, change


def test_cache_price_and_window(owner, submit, work):
    dedupe_policy_set(organization=owner.organization, window_seconds=60, cache_price=5_000)
    submit(owner, model=PRO, prompt="same")
    work()
    before = balance(owner)
    hit = submit(owner, model=PRO, prompt="same").json()
    assert hit["cached"] is True and hit["price"]["micros"] == 5_000
    assert balance(owner) == before - 5_000
    GenerationJob.objects.update(finished_at=timezone.now() - timedelta(minutes=5))
    assert submit(owner, model=PRO, prompt="same").json()["cached"] is False


def test_the_cache_never_crosses_organizations(owner, outsider, submit, work):
    dedupe_policy_set(organization=owner.organization)
    dedupe_policy_set(organization=outsider.organization)
    submit(owner, model=PRO, prompt="same")
    work()
    assert submit(outsider, model=PRO, prompt="same").json()["cached"] is False


def test_policy_endpoint(owner, member, outsider, submit, work, brands):
    acme, acme_api = brands["Acme"]
    assert owner.api.get("/api/v1/dedupe").json()["enabled"] is False
    assert member.api.put("/api/v1/dedupe", {"enabled": True}, format="json").status_code == 403
    response = owner.api.put("/api/v1/dedupe", {"brand": str(acme.pk), "enabled": True,
                                                "window_seconds": 600}, format="json")
    assert response.status_code == 200
    assert (response.json()["enabled"], response.json()["window_seconds"]) == (True, 600)
    # The brand opted in, the organization did not.
    assert owner.api.get("/api/v1/dedupe").json()["enabled"] is False
    assert acme_api.get("/api/v1/dedupe").json()["enabled"] is True
    outsider_view = outsider.api.get("/api/v1/dedupe", {"brand": str(acme.pk)})
    assert outsider_view.status_code == 404

    submit(owner, model=PRO, prompt="brand image", brand=str(acme.pk))
    work()
    assert submit(owner, model=PRO, prompt="brand image", brand=str(acme.pk)).json()["cached"]
    assert submit(owner, model=PRO, prompt="brand image").json()["cached"] is False
