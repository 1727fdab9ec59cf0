"""GET /api/v1/usage: charged generations grouped by day, brand, key, model and tier — what an
agency needs to re-bill each client."""

import csv
import io

from django.utils import timezone

from accounts.models import Brand, Scope
from accounts.services import api_key_create, brand_create
from tests.billing.conftest import FLASH, PRO
from tests.conftest import Actor


def test_usage_groups_charged_images_per_client_key_model_and_tier(
        owner, outsider, submit, run_queued_jobs):
    acme = Brand.objects.get(organization=owner.organization)
    globex = brand_create(organization=owner.organization, name="Globex")
    key, secret = api_key_create(organization=owner.organization, name="globex portal",
                                 brand=globex, scopes=[Scope.GENERATE, Scope.READ])
    globex_key = Actor(owner.user, owner.organization, secret)
    for _ in range(2):
        submit(owner, model=PRO, prompt="acme 4k", image_size="4K", brand=str(acme.pk))
    submit(owner, model=FLASH, prompt="acme flash", brand=str(acme.pk))
    submit(globex_key, model=PRO, prompt="globex", image_size="2K")
    submit(outsider, model=PRO, prompt="not ours")
    run_queued_jobs()
    submit(owner, model=PRO, prompt="queued, not charged yet", brand=str(acme.pk))

    body = owner.api.get("/api/v1/usage").json()

    today = timezone.now().date().isoformat()
    rows = {(row["brand"]["name"], row["api_key"]["name"], row["model"], row["image_size"]):
            (row["day"], row["images"], row["amount"]["micros"]) for row in body["data"]}
    assert rows == {
        (acme.name, "owner key", PRO, "4K"): (today, 2, 480_000),
        (acme.name, "owner key", FLASH, "1K"): (today, 1, 39_000),
        ("Globex", "globex portal", PRO, "2K"): (today, 1, 134_000),
    }
    assert body["total"] == {"images": 4, "amount": {"micros": 653_000, "usd": "0.653"}}

    by_brand = owner.api.get("/api/v1/usage", {"group_by": "brand"}).json()["data"]
    assert {(row["brand"]["name"], row["images"], row["amount"]["micros"])
            for row in by_brand} == {(acme.name, 3, 519_000), ("Globex", 1, 134_000)}
    assert set(by_brand[0]) == {"brand", "images", "amount"}

    # The Globex key sees Globex only; the outsider sees only its own usage.
    assert [row["brand"]["name"] for row in globex_key.api.get("/api/v1/usage").json()["data"]] \
        == ["Globex"]
    assert outsider.api.get("/api/v1/usage").json()["total"]["images"] == 1
    assert key.prefix in {row["api_key"]["prefix"] for row in body["data"]}


def test_usage_csv_and_date_range(owner, submit, run_queued_jobs):
    submit(owner, model=PRO, prompt="x")
    run_queued_jobs()

    response = owner.api.get("/api/v1/usage.csv", {"group_by": "day,model"})
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert rows == [{"day": timezone.now().date().isoformat(), "model": PRO, "images": "1",
                     "amount_usd": "0.134", "amount_micros": "134000"}]

    assert owner.api.get("/api/v1/usage", {"until": "2020-01-01"}).json()["data"] == []
    bad = owner.api.get("/api/v1/usage", {"group_by": "colour"})
    assert (bad.status_code, bad.json()["error"]["param"]) == (400, "group_by")


def test_csv_cells_never_start_a_spreadsheet_formula(owner, submit, run_queued_jobs):
    brand = brand_create(organization=owner.organization, name="=HYPERLINK(\"http://x\")")
    submit(owner, model=PRO, prompt="x", brand=str(brand.pk))
    run_queued_jobs()

    for path in ("/api/v1/usage.csv", "/api/v1/ledger.csv"):
        body = b"".join(owner.api.get(path).streaming_content).decode()
        assert "'=HYPERLINK" in body and ",=HYPERLINK" not in body
