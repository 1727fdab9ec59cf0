"""GET /api/v1/ledger: newest first, opaque cursor pages, filters; and its CSV export."""

import csv
import io
from datetime import timedelta

from django.utils import timezone

from accounts.models import Brand, Scope
from accounts.services import api_key_create, brand_create
from billing.models import EntryKind, LedgerEntry
from tests.billing.conftest import PRO, adjust
from tests.conftest import Actor


def all_pages(actor, **params) -> list[dict]:
    entries, cursor = [], None
    while True:
        query = {**params, **({"cursor": cursor} if cursor else {})}
        body = actor.api.get("/api/v1/ledger", query).json()
        entries += body["data"]
        assert body["has_more"] == (body["next_cursor"] is not None)
        if not body["has_more"]:
            return entries
        cursor = body["next_cursor"]


def test_cursor_pages_walk_every_entry_once_newest_first(owner):
    for n in range(1, 12):
        adjust(owner, n * 1_000)
    total = LedgerEntry.objects.filter(wallet__organization=owner.organization).count()

    first = owner.api.get("/api/v1/ledger", {"limit": 5}).json()
    entries = all_pages(owner, limit=5)

    assert len(first["data"]) == 5 and first["has_more"]
    assert [entry["amount"]["micros"] for entry in first["data"]] == [11_000, 10_000, 9_000,
                                                                       8_000, 7_000]
    assert len(entries) == total == 12
    assert len({entry["id"] for entry in entries}) == 12
    assert entries[-1]["kind"] == EntryKind.SIGNUP_GRANT


def test_entries_posted_while_paging_do_not_shift_the_pages(owner):
    for n in range(6):
        adjust(owner, 1_000 + n)
    first = owner.api.get("/api/v1/ledger", {"limit": 3}).json()
    adjust(owner, 99_000)  # newer than the cursor: not on the following pages

    rest = owner.api.get("/api/v1/ledger", {"limit": 50,
                                            "cursor": first["next_cursor"]}).json()["data"]

    assert [entry["amount"]["micros"] for entry in rest] == [1_002, 1_001, 1_000, 10_000_000]


def test_filters_by_kind_brand_and_date(owner, submit, run_queued_jobs):
    brand = Brand.objects.get(organization=owner.organization)
    other = brand_create(organization=owner.organization, name="Second client")
    submit(owner, model=PRO, prompt="a", brand=str(brand.pk))
    submit(owner, model=PRO, prompt="b", brand=str(other.pk))
    run_queued_jobs()
    adjust(owner, 5_000)

    captures = all_pages(owner, kind="capture")
    assert [entry["kind"] for entry in captures] == ["capture", "capture"]
    mine = all_pages(owner, brand=str(other.pk))
    assert [(entry["kind"], entry["brand"]) for entry in mine] == [("capture", str(other.pk))]
    tomorrow = (timezone.now() + timedelta(days=1)).date().isoformat()
    assert all_pages(owner, since=tomorrow) == []
    assert len(all_pages(owner, until=tomorrow)) == 4


def test_outsider_sees_only_its_own_entries_and_not_our_brand(owner, outsider):
    adjust(owner, 7_000)
    theirs = all_pages(outsider)
    assert [entry["kind"] for entry in theirs] == [EntryKind.SIGNUP_GRANT]
    our_brand = Brand.objects.get(organization=owner.organization)
    response = outsider.api.get("/api/v1/ledger", {"brand": str(our_brand.pk)})
    assert (response.status_code, response.json()["error"]["code"]) == (404, "brand_not_found")


def test_a_brand_bound_key_sees_only_its_brand(owner, submit, run_queued_jobs):
    brand = Brand.objects.get(organization=owner.organization)
    other = brand_create(organization=owner.organization, name="Other client")
    _, secret = api_key_create(organization=owner.organization, name="bound", brand=other,
                               scopes=[Scope.GENERATE, Scope.READ])
    bound = Actor(owner.user, owner.organization, secret)
    submit(owner, model=PRO, prompt="a", brand=str(brand.pk))
    submit(bound, model=PRO, prompt="b")
    run_queued_jobs()

    assert [entry["brand"] for entry in all_pages(bound)] == [str(other.pk)]
    assert bound.api.get("/api/v1/ledger", {"brand": str(brand.pk)}).status_code == 404


def test_bad_parameters_are_400_with_the_param(owner):
    for params, param in [({"cursor": "bm9wZQ"}, "cursor"), ({"limit": 0}, "limit"),
                          ({"limit": 500}, "limit"), ({"kind": "gift"}, "kind"),
                          ({"since": "yesterday"}, "since")]:
        response = owner.api.get("/api/v1/ledger", params)
        assert response.status_code == 400, params
        assert response.json()["error"]["param"] == param


def test_csv_export_has_every_filtered_entry_in_dollars(owner, outsider):
    adjust(owner, 1_234_567, kind=EntryKind.PURCHASE)
    adjust(owner, -200_000)
    adjust(outsider, 9_000)

    response = owner.api.get("/api/v1/ledger.csv")

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert [(row["kind"], row["amount_usd"], row["amount_micros"]) for row in rows] == [
        ("adjustment", "-0.20", "-200000"), ("purchase", "1.234567", "1234567"),
        ("signup_grant", "10.00", "10000000")]
    assert rows[0]["balance_after_usd"] == "11.034567"

    only = owner.api.get("/api/v1/ledger.csv", {"kind": "purchase"})
    assert len(list(csv.DictReader(io.StringIO(b"".join(only.streaming_content).decode())))) == 1


def test_ledger_needs_a_credential(client, db):
    assert client.get("/api/v1/ledger").status_code == 401
    assert client.get("/api/v1/ledger.csv").status_code == 401
