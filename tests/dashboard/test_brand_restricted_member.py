"""A member restricted to some brands sees only those brands' jobs and submits only for them,
on the pages and on the API's session-authenticated calls alike (the one door: tenancy)."""

import pytest
from rest_framework.test import APIClient

from accounts.models import Membership, Role
from accounts.services import api_key_create, brand_create
from tests.dashboard.conftest import add_person, browser_for


@pytest.fixture
def two_brands(owner):
    soda = brand_create(organization=owner.organization, name="Acme Soda")
    shoes = brand_create(organization=owner.organization, name="Bolt Shoes")
    return soda, shoes


@pytest.fixture
def soda_member(owner, two_brands):
    return add_person(owner.organization, "soda@northwind.test", Role.MEMBER, brands=[two_brands[0]])


def test_restricted_member_sees_and_submits_only_for_their_brand(owner, two_brands, soda_member,
                                                                 submit):
    soda, shoes = two_brands
    soda_job = submit(owner, prompt="soda can", brand=str(soda.pk)).json()
    shoes_job = submit(owner, prompt="running shoe", brand=str(shoes.pk)).json()
    api = APIClient()
    api.force_login(soda_member)

    assert api.get(f"/api/v1/generations/{soda_job['id']}").status_code == 200
    assert api.get(f"/api/v1/generations/{shoes_job['id']}").status_code == 404
    refused = api.post("/api/v1/generations", {"prompt": "x", "brand": str(shoes.pk)},
                       format="json")
    assert refused.status_code == 404
    defaulted = api.post("/api/v1/generations", {"prompt": "x"}, format="json")
    assert defaulted.status_code == 202 and defaulted.json()["brand"] == str(soda.pk)

    pages = browser_for(soda_member)
    gallery = pages.get("/app/gallery/").content.decode()
    assert "soda can" in gallery and "running shoe" not in gallery
    assert pages.get(f"/app/jobs/{shoes_job['id']}/").status_code == 404
    brands_page = pages.get("/app/brands/").content.decode()
    assert "Acme Soda" in brands_page and "Bolt Shoes" not in brands_page
    playground = pages.get("/app/playground/").content.decode()
    assert "Acme Soda" in playground and "Bolt Shoes" not in playground


def test_member_restricted_to_several_brands_must_choose_one(owner, two_brands):
    member = add_person(owner.organization, "both@northwind.test", Role.MEMBER, brands=two_brands)
    api = APIClient()
    api.force_login(member)
    response = api.post("/api/v1/generations", {"prompt": "x"}, format="json")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "brand_required"


def test_unrestricted_member_and_admin_see_every_brand(owner, two_brands, member, submit):
    soda, shoes = two_brands
    submit(owner, prompt="soda can", brand=str(soda.pk))
    submit(owner, prompt="running shoe", brand=str(shoes.pk))
    # Brands on an admin's membership are ignored: admins always see everything.
    admin = add_person(owner.organization, "admin@northwind.test", Role.ADMIN, brands=[soda])
    for user in (member.user, admin):
        gallery = browser_for(user).get("/app/gallery/").content.decode()
        assert "soda can" in gallery and "running shoe" in gallery
    assert Membership.objects.get(user=admin).brands.count() == 1


def test_a_key_bound_to_a_brand_is_narrowed_by_the_same_door(owner, two_brands, submit):
    soda, shoes = two_brands
    shoes_job = submit(owner, prompt="running shoe", brand=str(shoes.pk)).json()
    _, secret = api_key_create(organization=owner.organization, name="soda only", brand=soda)
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")

    assert api.get(f"/api/v1/generations/{shoes_job['id']}").status_code == 404
    assert api.post("/api/v1/generations", {"prompt": "x", "brand": str(shoes.pk)},
                    format="json").status_code == 404
    own = api.post("/api/v1/generations", {"prompt": "x"}, format="json")
    assert own.status_code == 202 and own.json()["brand"] == str(soda.pk)
