"""The dashboard in a real browser: the first-image journey and the role limits people see."""

import pytest
from playwright.sync_api import expect
from rest_framework.test import APIClient

from accounts.models import Role
from accounts.services import brand_create
from tests.browser.conftest import log_in
from tests.dashboard.conftest import add_person

# serialized_rollback: the live server needs a transactional database, whose flush after each
# test would also remove the price list and signup rule that migrations seed.
pytestmark = [pytest.mark.browser,
              pytest.mark.django_db(transaction=True, serialized_rollback=True)]


def test_sign_up_create_a_key_and_generate_a_first_image(page, queue_worker):
    page.goto("/signup/")
    page.fill("#id_email", "dev@example.test")
    page.fill("#id_password", "a long passphrase")
    page.fill("#id_organization", "Pixel Agency")
    page.click("button[type=submit]")
    expect(page.locator(".flash-success")).to_contain_text("$0.10 of free credits")
    expect(page.get_by_test_id("available")).to_have_text("$0.10")

    page.click("nav >> text=API keys")
    page.fill("#id_name", "my laptop")
    page.click("#new-key button[type=submit]")
    secret = page.get_by_test_id("secret").inner_text()
    assert secret.startswith("atl_")
    page.click("button[data-copy]")
    expect(page.locator("button[data-copy]")).to_have_text("Copied")
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    assert api.get("/api/v1/wallet").json()["available"]["usd"] == "0.10"
    page.goto("/app/keys/")
    expect(page.locator("#keys")).to_contain_text("my laptop")
    expect(page.locator("#keys")).not_to_contain_text(secret)

    page.click("nav >> text=Playground")
    expect(page.get_by_test_id("price")).to_have_text("$0.039")  # Nano Banana, 1K
    page.select_option("#aspect_ratio", "16:9")
    expect(page.locator("#dimensions")).to_have_text("1344×768 px")
    page.fill("#prompt", "a lighthouse at dawn")
    page.click("#generate")
    expect(page.get_by_test_id("job-status")).to_have_text("succeeded")
    image = page.get_by_test_id("result-image")
    expect(image).to_be_visible()
    assert page.evaluate("document.querySelector('[data-testid=result-image]').naturalWidth") == 384
    assert page.get_attribute("#job-download", "href").startswith("/files/")
    expect(page.locator("#available")).to_have_text("$0.061")

    page.click("nav >> text=Gallery")
    expect(page.locator("#gallery .tile")).to_have_count(1)
    page.click("#gallery .tile")
    expect(page.get_by_test_id("detail-status")).to_have_text("succeeded")


def test_a_viewer_cannot_create_keys(page, owner):
    add_person(owner.organization, "viewer@northwind.test", Role.VIEWER)
    log_in(page, "viewer@northwind.test")

    expect(page.locator("nav.sidebar")).not_to_contain_text("API keys")
    expect(page.locator("nav.sidebar")).not_to_contain_text("Playground")
    page.goto("/app/keys/")
    expect(page.locator("main h1")).to_have_text("Not allowed")
    expect(page.locator("main")).not_to_contain_text("Create key")


def test_a_member_sees_only_their_brands(page, owner, submit, queue_worker):
    soda = brand_create(organization=owner.organization, name="Acme Soda")
    shoes = brand_create(organization=owner.organization, name="Bolt Shoes")
    submit(owner, prompt="a soda can", model="gemini-2.5-flash-image", brand=str(soda.pk))
    submit(owner, prompt="a running shoe", model="gemini-2.5-flash-image", brand=str(shoes.pk))
    add_person(owner.organization, "soda@northwind.test", Role.MEMBER, brands=[soda])
    log_in(page, "soda@northwind.test")

    page.goto("/app/gallery/")
    expect(page.locator("#gallery .tile")).to_have_count(1)
    expect(page.locator("#gallery")).to_contain_text("a soda can")
    page.goto("/app/brands/")
    expect(page.locator("#brands")).to_contain_text("Acme Soda")
    expect(page.locator("#brands")).not_to_contain_text("Bolt Shoes")
    page.goto("/app/playground/")
    assert page.locator("#brand option").all_inner_texts() == ["Acme Soda"]


def test_edit_this_image_and_a_reference_upload_in_the_playground(page, owner, queue_worker,
                                                                  tmp_path):
    import io

    from PIL import Image

    reference = tmp_path / "can.png"
    buffer = io.BytesIO()
    Image.new("RGB", (80, 60), (200, 30, 30)).save(buffer, "PNG")
    reference.write_bytes(buffer.getvalue())
    log_in(page, "owner@northwind.test")

    page.click("nav >> text=Playground")
    expect(page.get_by_test_id("price")).to_have_text("$0.039")
    page.set_input_files("#reference_images", str(reference))
    expect(page.get_by_test_id("price")).not_to_have_text("$0.039")  # a reference adds to it
    page.fill("#prompt", "this can on a beach")
    page.click("#generate")
    expect(page.get_by_test_id("job-status")).to_have_text("succeeded")

    page.click("#edit-image")
    expect(page.get_by_test_id("editing")).to_be_visible()
    page.set_input_files("#reference_images", [])
    page.fill("#prompt", "now at night")
    page.click("#generate")
    expect(page.get_by_test_id("editing")).to_be_hidden()
    expect(page.get_by_test_id("job-status")).to_have_text("succeeded")
    page.click("#job-detail")
    expect(page.get_by_test_id("parent-link")).to_be_visible()
