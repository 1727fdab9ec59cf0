"""The staff console: every admin page renders with money in dollars, the dashboard adds up,
credit adjustments go through the ledger with a reason and an actor."""

import re

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.admin.sites import site
from django.test import RequestFactory

from accounts.models import Organization
from billing.models import EntryKind, LedgerEntry, PriceItem, Wallet
from billing.money import format_usd
from billing.services import ledger_post
from generation.models import GenerationJob
from generation.moderation.models import AuditAction, AuditLogEntry
from tests.moderation.conftest import answer_every_request, staff_client

PRO = "gemini-3-pro-image-preview"


def test_every_admin_list_add_and_change_page_renders(superuser, owner, blocked_job, submit,
                                                      run_queued_jobs):
    blocked_job()
    submit(owner, model=PRO, prompt="a harbour")
    run_queued_jobs()
    for model, model_admin in site._registry.items():
        opts = model._meta
        base = f"/admin/{opts.app_label}/{opts.model_name}/"
        listing = superuser.get(base, {"q": "a"})
        assert listing.status_code == 200, base
        first = model._default_manager.first()
        if first is not None:
            assert superuser.get(f"{base}{first.pk}/change/").status_code == 200, base
        if model_admin.has_add_permission(_request_by(superuser.user)):
            assert superuser.get(f"{base}add/").status_code == 200, base


def _request_by(user):
    request = RequestFactory().get("/admin/")
    request.user = user
    return request


def test_money_is_shown_and_edited_in_dollars(superuser, owner):
    wallets = superuser.get("/admin/billing/wallet/").content.decode()
    assert "$10.00" in wallets
    item = PriceItem.objects.filter(model=PRO, tier="2K").select_related("price_list").first()
    page = superuser.get(f"/admin/billing/pricelist/{item.price_list_id}/change/").content.decode()
    assert 'value="0.134"' in page


def test_dashboard_shows_revenue_spend_margin_queue_cases_and_charts(
        superuser, owner, outsider, submit, run_queued_jobs, blocked_job, blocking_upstream):
    wallet = Wallet.objects.get(organization=owner.organization)
    ledger_post(wallet=wallet, kind=EntryKind.PURCHASE, amount=50_000_000,
                idempotency_key="test:purchase:1", memo="Stripe checkout")
    blocked_job()
    answer_every_request(blocking_upstream)
    submit(owner, model=PRO, prompt="a harbour", image_size="2K")
    submit(outsider, model=PRO, prompt="a lighthouse")
    run_queued_jobs()
    answer_every_request(blocking_upstream, "no_image")  # a non-retryable upstream failure
    submit(outsider, model=PRO, prompt="a failing one")
    run_queued_jobs()

    page = superuser.get("/admin/dashboard/", {"hours": "24"}).content.decode()

    assert re.search(r'id="revenue">\$50\.00<', page)
    jobs = GenerationJob.objects.filter(status="succeeded")
    assert jobs.count() == 2
    spent = sum(job.price for job in jobs)
    margin = sum(job.price - job.google_cost for job in jobs)
    assert f'id="spent">{format_usd(spent, symbol=True)}<' in page
    assert f'id="margin">{format_usd(margin, symbol=True)}<' in page
    assert 'id="open-cases">1<' in page
    assert 'id="queue-depth">0<' in page
    assert page.count('class="chart"') == 3
    assert "Northwind Agency" in page and "Contoso Studio" in page
    # Per provider/channel: every job ran through the default channel to the fake Gemini
    # server, so all four land on its row: 4 finished, 1 failed, 1 blocked; errors 1 in 4.
    assert re.search(r"<td>gemini</td><td>default-gemini</td><td>4</td><td>1</td><td>1</td>"
                     r"<td>25.0 %</td>", page)
    assert "(none recorded)" not in page


def test_dashboard_counts_tasks_waiting_on_the_broker(superuser, owner, submit):
    submit(owner, model=PRO, prompt="one")
    submit(owner, model=PRO, prompt="two")
    page = superuser.get("/admin/dashboard/").content.decode()
    assert 'id="queue-depth">2<' in page


def test_console_pages_are_staff_only(ordinary_user, client):
    for url in ("/admin/dashboard/", "/admin/credits/adjust/"):
        assert ordinary_user.get(url)["Location"].startswith("/admin/login/")
        assert client.get(url)["Location"].startswith("/admin/login/")


@pytest.fixture
def accountant(db):
    return staff_client("finance@atelier.test", "billing.add_ledgerentry",
                        "billing.view_ledgerentry")


def adjust(client, organization, direction, amount, reason="goodwill for an outage",
           form_id="form-token-1"):
    return client.post("/admin/credits/adjust/", {
        "organization": str(organization.pk), "direction": direction, "amount": amount,
        "reason": reason, "token": form_id})


def test_grant_posts_one_adjustment_entry_with_actor_reason_and_audit_row(accountant, owner):
    form = accountant.get("/admin/credits/adjust/", {"organization": str(owner.organization.pk)})
    assert form.status_code == 200 and "$10.00" in form.content.decode()

    response = adjust(accountant, owner.organization, "grant", "12.50")
    again = adjust(accountant, owner.organization, "grant", "12.50")  # double submit

    assert response.status_code == 302 and again.status_code == 302
    entry = LedgerEntry.objects.get(kind=EntryKind.ADJUSTMENT)
    assert (entry.amount, entry.actor, entry.memo) == (12_500_000, accountant.user,
                                                        "goodwill for an outage")
    wallet = Wallet.objects.get(organization=owner.organization)
    assert wallet.balance == 22_500_000
    audit = AuditLogEntry.objects.get(action=AuditAction.CREDIT_ADJUST)
    assert (audit.actor, audit.organization, audit.details["entry"]) == (
        accountant.user, owner.organization, entry.pk)


def test_debit_needs_a_reason_and_cannot_exceed_available_credits(accountant, owner):
    no_reason = adjust(accountant, owner.organization, "debit", "1", reason="   ")
    assert no_reason.status_code == 200 and "A reason is required" in no_reason.content.decode()
    too_much = adjust(accountant, owner.organization, "debit", "10.01", form_id="t2")
    assert too_much.status_code == 200 and "Insufficient credits" in too_much.content.decode()
    assert not LedgerEntry.objects.filter(kind=EntryKind.ADJUSTMENT).exists()

    adjust(accountant, owner.organization, "debit", "2.25", reason="duplicate grant", form_id="t3")

    assert LedgerEntry.objects.get(kind=EntryKind.ADJUSTMENT).amount == -2_250_000
    assert Wallet.objects.get(organization=owner.organization).balance == 7_750_000


def test_staff_without_the_ledger_permission_cannot_adjust(staff_without_permission, owner):
    assert staff_without_permission.get("/admin/credits/adjust/").status_code == 403
    assert adjust(staff_without_permission, owner.organization, "grant", "5").status_code == 403
    assert not LedgerEntry.objects.filter(kind=EntryKind.ADJUSTMENT).exists()


def test_organization_admin_suspends_and_reinstates_with_audit(owner):
    moderator = staff_client("trust@atelier.test", "moderation.moderate_case",
                             "accounts.view_organization")
    url = "/admin/accounts/organization/"
    selection = {ACTION_CHECKBOX_NAME: [str(owner.organization.pk)]}

    moderator.post(url, {**selection, "action": "suspend_organizations", "apply": "yes",
                         "reason": "chargeback fraud"})
    assert owner.api.get("/api/v1/wallet").json()["error"]["code"] == "organization_suspended"
    moderator.post(url, {**selection, "action": "reinstate_organizations", "apply": "yes",
                         "reason": "resolved with the customer"})

    assert Organization.objects.get(pk=owner.organization.pk).suspended_at is None
    assert owner.api.get("/api/v1/wallet").status_code == 200
    assert list(AuditLogEntry.objects.order_by("id").values_list("action", "reason")) == [
        (AuditAction.ORG_SUSPEND, "chargeback fraud"),
        (AuditAction.ORG_REINSTATE, "resolved with the customer")]


def test_admin_home_links_the_console_pages(superuser):
    home = superuser.get("/admin/").content.decode()
    for url in ("/admin/dashboard/", "/admin/credits/adjust/", "/admin/moderation/moderationcase/"):
        assert url in home
