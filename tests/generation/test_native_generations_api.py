"""The native async jobs API: submit, run on the queue, read the result, download the image."""

import io

import pytest
from PIL import Image

from billing.models import EntryKind, LedgerEntry, Reservation, Wallet
from generation.models import GenerationJob

PRO = "gemini-3-pro-image-preview"
FLASH = "gemini-2.5-flash-image"


def wallet_of(actor) -> Wallet:
    return Wallet.objects.get(organization=actor.organization)


def test_2k_16_9_generation_renders_exact_size_and_captures_the_2k_price(
        owner, submit, run_queued_jobs, client):
    before = wallet_of(owner).balance

    response = submit(owner, model=PRO, prompt="a lighthouse at dawn", image_size="2K",
                      aspect_ratio="16:9")

    assert response.status_code == 202
    job = response.json()
    assert job["status"] == "queued"
    assert job["price"] == {"micros": 134_000, "usd": "0.134"}
    assert (job["width"], job["height"]) == (2752, 1536)
    assert response["Location"].endswith(f"/api/v1/generations/{job['id']}")
    wallet = wallet_of(owner)
    assert (wallet.balance, wallet.reserved) == (before, 134_000)

    assert run_queued_jobs() == 1

    detail = owner.api.get(f"/api/v1/generations/{job['id']}").json()
    assert detail["status"] == "succeeded"
    assert detail["local_render"] is True
    [image] = detail["images"]
    assert (image["width"], image["height"], image["mime_type"]) == (2752, 1536, "image/png")

    download = client.get(image["url"])
    assert download.status_code == 200
    png = Image.open(io.BytesIO(b"".join(download.streaming_content)))
    assert (png.format, png.size) == ("PNG", (2752, 1536))

    wallet = wallet_of(owner)
    assert (wallet.balance, wallet.reserved) == (before - 134_000, 0)
    capture = LedgerEntry.objects.get(wallet=wallet, kind=EntryKind.CAPTURE)
    assert capture.amount == -134_000
    assert capture.reference == f"job:{job['id']}"


def test_x_goog_api_key_header_authenticates(owner, client):
    response = client.get("/api/v1/wallet", HTTP_X_GOOG_API_KEY=owner.api_key)
    assert response.status_code == 200
    assert response.json()["available"]["usd"] == "10.00"


def test_tier_is_case_insensitive_and_flash_defaults_to_its_one_size(owner, submit):
    pro = submit(owner, model=PRO, prompt="x", image_size="4k", aspect_ratio="21:9").json()
    assert (pro["image_size"], pro["width"], pro["height"]) == ("4K", 6336, 2688)
    assert pro["price"]["micros"] == 240_000
    flash = submit(owner, model=FLASH, prompt="x", aspect_ratio="9:16").json()
    assert (flash["image_size"], flash["width"], flash["height"]) == ("1K", 768, 1344)
    assert flash["price"]["micros"] == 39_000


@pytest.mark.parametrize(("payload", "status", "code", "param"), [
    ({"model": "dall-e-9", "prompt": "x"}, 400, "unknown_model", "model"),
    ({"model": PRO, "prompt": "x", "aspect_ratio": "7:5"}, 400, "unsupported_aspect_ratio",
     "aspect_ratio"),
    ({"model": PRO}, 400, "missing_field", "prompt"),
    ({"model": PRO, "prompt": "   "}, 400, "missing_field", "prompt"),
    ({"model": FLASH, "prompt": "x", "image_size": "2K"}, 400, "unsupported_image_size",
     "image_size"),
    ({"model": PRO, "prompt": "x", "image_size": "8K"}, 400, "unsupported_image_size",
     "image_size"),
    ({"model": FLASH, "prompt": "x", "grounding": True}, 400, "unsupported_option", "grounding"),
])
def test_bad_requests_get_a_stable_code_and_leave_nothing_behind(
        owner, submit, payload, status, code, param):
    entries_before = LedgerEntry.objects.count()

    response = submit(owner, **payload)

    assert response.status_code == status
    error = response.json()["error"]
    assert (error["code"], error["param"]) == (code, param)
    assert error["message"]
    assert GenerationJob.objects.count() == 0
    assert Reservation.objects.count() == 0
    assert LedgerEntry.objects.count() == entries_before


def test_exhausted_wallet_is_refused_with_402_and_nothing_written(db, submit):
    from tests.conftest import make_tenant

    poor = make_tenant("Shoestring", "poor@shoestring.test", credits="0.10")
    response = submit(poor, model=PRO, prompt="a cat", image_size="4K")

    assert response.status_code == 402
    error = response.json()["error"]
    assert error["code"] == "insufficient_credits"
    assert "$0.24" in error["message"] and "$0.10" in error["message"]
    assert GenerationJob.objects.count() == 0
    assert Reservation.objects.count() == 0
    wallet = Wallet.objects.get(organization=poor.organization)
    assert (wallet.balance, wallet.reserved) == (100_000, 0)


def test_available_credit_counts_open_reservations(db, submit):
    from tests.conftest import make_tenant

    tenant = make_tenant("Tight", "tight@budget.test", credits="0.30")
    assert submit(tenant, model=PRO, prompt="one", image_size="2K").status_code == 202
    assert submit(tenant, model=PRO, prompt="two", image_size="2K").status_code == 202
    third = submit(tenant, model=PRO, prompt="three", image_size="2K")
    assert third.status_code == 402
    assert GenerationJob.objects.count() == 2


def test_outsider_sees_only_404s(owner, outsider, submit, run_queued_jobs):
    job = submit(owner, model=PRO, prompt="secret campaign").json()
    run_queued_jobs()

    assert outsider.api.get(f"/api/v1/generations/{job['id']}").status_code == 404
    assert outsider.api.post(f"/api/v1/generations/{job['id']}/cancel").status_code == 404
    brand = str(owner.organization.brands.get().pk)
    foreign_brand = submit(outsider, model=PRO, prompt="x", brand=brand)
    assert foreign_brand.status_code == 404
    assert foreign_brand.json()["error"]["code"] == "brand_not_found"


def test_member_of_the_same_organization_sees_the_job(owner, member, submit):
    job = submit(owner, model=PRO, prompt="shared").json()
    assert member.api.get(f"/api/v1/generations/{job['id']}").json()["id"] == job["id"]


def test_unknown_job_is_404_in_the_native_shape(owner):
    response = owner.api.get("/api/v1/generations/00000000-0000-0000-0000-000000000000")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "generation_not_found"


def test_cancel_a_queued_job_returns_its_credits(owner, submit):
    job = submit(owner, model=PRO, prompt="never mind").json()

    response = owner.api.post(f"/api/v1/generations/{job['id']}/cancel")

    assert response.status_code == 200
    assert response.json()["status"] == "canceled"
    assert wallet_of(owner).reserved == 0
    again = owner.api.post(f"/api/v1/generations/{job['id']}/cancel")
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "not_cancelable"


def test_job_rows_refused_after_the_hold_leave_the_credits_available(owner, submit):
    # The hold commits on its own before the job rows are written (the wallet row is never
    # locked across a round trip); should the database then refuse the job rows, the submit
    # releases what it held.
    from django.db import DatabaseError, connection

    before = wallet_of(owner)
    with connection.cursor() as cursor:
        cursor.execute("CREATE FUNCTION refuse_jobs() RETURNS trigger LANGUAGE plpgsql AS "
                       "$$ BEGIN RAISE EXCEPTION 'no space left on device'; END $$")
        cursor.execute("CREATE TRIGGER refuse_jobs BEFORE INSERT ON generation_generationjob "
                       "FOR EACH ROW EXECUTE FUNCTION refuse_jobs()")

    with pytest.raises(DatabaseError, match="no space left"):
        submit(owner, model=PRO, prompt="a lighthouse", image_size="2K")

    assert GenerationJob.objects.count() == 0
    assert list(Reservation.objects.values_list("status", flat=True)) == ["released"]
    after = wallet_of(owner)
    assert (after.balance, after.reserved, after.available) == (
        before.balance, 0, before.available)
