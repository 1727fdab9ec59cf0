"""Per-organization prices: what GET /prices shows is what POST /quote says is what a job is
charged, and a price change never alters a job already quoted."""

from datetime import timedelta

import pytest
from django.utils import timezone

from billing.models import OrganizationDiscount, PriceItem, PriceList, PriceOverride
from billing.services import quote_generation
from tests.billing.conftest import FLASH, PRO, wallet_of


def prices_by_item(actor) -> dict:
    body = actor.api.get("/api/v1/prices").json()
    return {(row["model"], row["image_size"]): row for row in body["data"]}, body


def test_without_terms_the_caller_sees_list_prices(owner):
    items, body = prices_by_item(owner)

    assert items[(PRO, "4K")]["unit_price"] == {"micros": 240_000, "usd": "0.24"}
    assert items[(PRO, "4K")]["source"] == "list"
    assert items[(FLASH, "1K")]["unit_price"]["micros"] == 39_000
    assert body["discount_bps"] == 0
    assert body["surcharges"]["search_grounding"]["unit_price"]["micros"] == 14_000
    assert "google_cost" not in str(body)


def test_discount_and_explicit_price_apply_to_the_agency_and_nobody_else(owner, outsider):
    OrganizationDiscount.objects.create(organization=owner.organization, discount_bps=1_250)
    PriceOverride.objects.create(organization=owner.organization, model=PRO, tier="4K",
                                 unit_price=200_000)

    items, body = prices_by_item(owner)
    assert body["discount_bps"] == 1_250
    assert items[(PRO, "4K")]["unit_price"]["micros"] == 200_000
    assert items[(PRO, "4K")]["source"] == "override"
    # 12.5 % off $0.134 = $0.11725 exactly; $0.039 → $0.034125.
    assert items[(PRO, "1K")]["unit_price"]["micros"] == 117_250
    assert items[(PRO, "1K")]["source"] == "discount"
    assert items[(FLASH, "1K")]["unit_price"]["micros"] == 34_125
    assert body["surcharges"]["search_grounding"]["unit_price"]["micros"] == 12_250

    outsider_items, _ = prices_by_item(outsider)
    assert outsider_items[(PRO, "4K")]["unit_price"]["micros"] == 240_000
    assert outsider_items[(PRO, "1K")]["source"] == "list"


def test_discount_rounds_half_up_to_the_micro_dollar(owner):
    OrganizationDiscount.objects.create(organization=owner.organization, discount_bps=3_333)
    quote = quote_generation(model=FLASH, tier="1K", organization=owner.organization)
    # 39,000 × 0.6667 = 26,001.3 → 26,001
    assert quote.total == 26_001
    assert quote.list_total == 39_000
    assert quote.google_cost == 39_000  # Google's cost stays beside our price


def test_quote_gives_the_exact_price_with_its_breakdown(owner):
    OrganizationDiscount.objects.create(organization=owner.organization, discount_bps=1_000)

    response = owner.api.post("/api/v1/quote", {
        "model": PRO, "prompt": "a red bicycle", "image_size": "2k", "aspect_ratio": "16:9",
        "grounding": True, "reference_images": 3}, format="json")

    assert response.status_code == 200
    quote = response.json()
    assert (quote["image_size"], quote["width"], quote["height"]) == ("2K", 2752, 1536)
    lines = {line["item"]: line for line in quote["lines"]}
    assert lines[f"image:{PRO}:2K"]["unit_price"]["micros"] == 120_600
    assert lines[f"image:{PRO}:2K"]["list_unit_price"]["micros"] == 134_000
    assert (lines["reference_image"]["quantity"], lines["reference_image"]["amount"]["micros"]) \
        == (3, 2_970)
    assert lines["search_grounding"]["amount"]["micros"] == 12_600
    assert quote["total"]["micros"] == 120_600 + 2_970 + 12_600
    assert quote["list_total"]["micros"] == 134_000 + 3_300 + 14_000
    assert quote["affordable"] is True
    assert "google" not in str(quote)


@pytest.mark.parametrize(("payload", "code", "param"), [
    ({"model": "dall-e-9", "prompt": "x"}, "unknown_model", "model"),
    ({"model": PRO, "prompt": "  "}, "missing_field", "prompt"),
    ({"model": FLASH, "prompt": "x", "image_size": "4K"}, "unsupported_image_size",
     "image_size"),
    ({"model": PRO, "prompt": "x", "aspect_ratio": "7:5"}, "unsupported_aspect_ratio",
     "aspect_ratio"),
    ({"model": FLASH, "prompt": "x", "grounding": True}, "unsupported_option", "grounding"),
    ({"model": FLASH, "prompt": "x", "reference_images": 4}, "too_many_reference_images",
     "reference_images"),
])
def test_quote_refuses_what_submit_refuses(owner, submit, payload, code, param):
    quoted = owner.api.post("/api/v1/quote", payload, format="json")
    assert quoted.status_code == 400
    assert (quoted.json()["error"]["code"], quoted.json()["error"]["param"]) == (code, param)
    if "reference_images" not in payload:
        submitted = submit(owner, **payload)
        assert submitted.json()["error"]["code"] == code


def test_submitted_job_is_charged_the_quoted_override_price(owner, submit, run_queued_jobs):
    PriceOverride.objects.create(organization=owner.organization, model=PRO, tier="1K",
                                 unit_price=99_000)
    quoted = owner.api.post("/api/v1/quote", {"model": PRO, "prompt": "x"}, format="json").json()
    before = wallet_of(owner).balance

    job = submit(owner, model=PRO, prompt="x").json()
    run_queued_jobs()

    assert job["price"]["micros"] == quoted["total"]["micros"] == 99_000
    assert wallet_of(owner).balance == before - 99_000


def test_a_price_change_never_alters_a_quoted_job(owner, submit, run_queued_jobs):
    job = submit(owner, model=PRO, prompt="x", image_size="4K").json()
    newer = PriceList.objects.create(name="Price rise", effective_at=timezone.now()
                                     - timedelta(seconds=1))
    PriceItem.objects.create(price_list=newer, model=PRO, tier="4K", unit_price=300_000,
                             google_cost=240_000)
    PriceOverride.objects.create(organization=owner.organization, model=PRO, tier="4K",
                                 unit_price=1)
    before = wallet_of(owner).balance

    run_queued_jobs()

    assert wallet_of(owner).balance == before - 240_000
    assert owner.api.get(f"/api/v1/generations/{job['id']}").json()["price"]["micros"] == 240_000


def test_prices_need_a_credential(client, db):
    assert client.get("/api/v1/prices").status_code == 401
    assert client.post("/api/v1/quote", {}, format="json").status_code == 401
