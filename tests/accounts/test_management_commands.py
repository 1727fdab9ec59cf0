"""Operator commands print what scripts need and create working credentials."""

import io
import json

import pytest
from django.core.management import CommandError, call_command

from accounts.models import ApiKey, Organization
from billing.models import Wallet
from tests.conftest import Actor


def run(*args) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def test_create_tenant_prints_one_json_line_with_a_working_key(db):
    output = run("create_tenant", "Acme Creative", "--email", "ops@acme.test", "--credits", "12.5")

    assert output.count("\n") == 1
    created = json.loads(output)
    organization = Organization.objects.get(pk=created["organization"])
    assert str(organization.brands.get().pk) == created["brand"]
    assert Wallet.objects.get(organization=organization).balance == 12_500_000
    tenant = Actor(None, organization, created["api_key"])
    assert tenant.api.get("/api/v1/wallet").json()["balance"]["usd"] == "12.50"


def test_create_tenant_rejects_a_bad_amount(db):
    with pytest.raises(CommandError):
        run("create_tenant", "X", "--email", "x@x.test", "--credits", "ten")
    assert not Organization.objects.exists()


def test_create_api_key_binds_a_brand(owner):
    brand = owner.organization.brands.get()
    secret = run("create_api_key", "--organization", str(owner.organization.pk),
                 "--brand", str(brand.pk)).strip()

    key = ApiKey.objects.get(prefix=secret[:12])
    assert key.brand == brand
    assert Actor(None, owner.organization, secret).api.get("/api/v1/wallet").status_code == 200


def test_create_api_key_refuses_a_brand_of_another_organization(owner, outsider):
    foreign = outsider.organization.brands.get()
    with pytest.raises(CommandError):
        run("create_api_key", "--organization", str(owner.organization.pk), "--brand",
            str(foreign.pk))
    with pytest.raises(CommandError):
        run("create_api_key", "--organization", "not-a-uuid")
