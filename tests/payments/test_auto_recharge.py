"""Auto-recharge: the card saved by the first purchase tops the wallet up once per fall below
the threshold; failures notify the owners and switch it off after repeated failure."""

import pytest
import stripe
from django.core import mail
from django.core.management import call_command

from billing.payments.models import Payment, PaymentAccount, PaymentKind
from billing.payments.services import auto_recharge_check
from tests.payments.conftest import wallet_of
from tests.payments.test_clawbacks import spend

FLASH = "gemini-2.5-flash-image"


@pytest.fixture
def work(run_queued_jobs, django_capture_on_commit_callbacks):
    """Run queued tasks (jobs, top-ups, emails) like a worker, including what they enqueue."""

    def _work():
        while True:
            with django_capture_on_commit_callbacks(execute=True):
                if not run_queued_jobs():
                    return

    return _work


@pytest.fixture
def opt_in(django_capture_on_commit_callbacks):
    def _opt_in(actor, threshold: str, amount: str):
        with django_capture_on_commit_callbacks(execute=True):
            response = actor.api.put("/api/v1/auto-recharge", {
                "enabled": True, "threshold": threshold, "amount": amount}, format="json")
        assert response.status_code == 200, response.json()
        return response.json()

    return _opt_in


@pytest.fixture
def check(django_capture_on_commit_callbacks):
    """What the job-settlement path calls after a capture."""

    def _check(actor):
        with django_capture_on_commit_callbacks(execute=True):
            return auto_recharge_check(organization_id=actor.organization.pk)

    return _check


@pytest.fixture
def card_on_file(owner, paid, work):
    """Owner bought $20 once (card saved) and spent down to exactly $25.00 available."""
    paid(owner, "20")
    work()  # the receipt task records the saved card
    spend(owner, 5)
    assert wallet_of(owner).available == 25_000_000
    return owner


def top_ups(actor):
    return list(Payment.objects.filter(organization=actor.organization,
                                       kind=PaymentKind.AUTO_RECHARGE).order_by("created_at"))


def test_opting_in_needs_a_card_saved_by_a_purchase(owner, fake_stripe):
    response = owner.api.put("/api/v1/auto-recharge",
                             {"enabled": True, "threshold": "5", "amount": "20"}, format="json")
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "no_saved_payment_method"


def test_falling_below_the_threshold_tops_up_once_per_crossing(
        card_on_file, fake_stripe, submit, work, deliver, check):
    owner = card_on_file
    response = owner.api.put("/api/v1/auto-recharge",
                             {"enabled": True, "threshold": "25", "amount": "50"}, format="json")
    assert response.status_code == 200
    assert response.json()["has_saved_card"] is True
    assert top_ups(owner) == []  # $25.00 is not below $25

    submit(owner, model=FLASH, prompt="a red bicycle")
    work()  # the job captures $0.039, the check fires, the top-up task charges the card

    [top_up] = top_ups(owner)
    assert top_up.status == "paid"
    intent = fake_stripe.get(top_up.stripe_payment_intent_id)
    assert (intent["amount"], intent["status"]) == (5_000, "succeeded")
    assert intent["payment_method"] == PaymentAccount.objects.get(
        organization=owner.organization).default_payment_method_id
    assert wallet_of(owner).available == 25_000_000 - 39_000 + 50_000_000
    # The webhook for the same intent arrives too: nothing more is credited.
    deliver(*fake_stripe.take_pending())
    assert wallet_of(owner).available == 25_000_000 - 39_000 + 50_000_000

    # Many checks during one crossing make one top-up.
    spend(owner, 60)  # below $25 again: a new crossing
    for _ in range(3):
        check(owner)
    work()
    assert len(top_ups(owner)) == 2
    assert [p.status for p in top_ups(owner)] == ["paid", "paid"]
    call_command("reconcile")


def test_top_up_credited_from_payment_intent_succeeded_webhook(
        card_on_file, fake_stripe, deliver, work):
    owner = card_on_file
    owner.api.put("/api/v1/auto-recharge", {"enabled": True, "threshold": "30", "amount": "40"},
                  format="json")
    [top_up] = top_ups(owner)  # $25 is already below $30: opting in fires at once
    assert top_up.status == "pending"
    before = wallet_of(owner).balance
    # Stripe charges the card and its webhook lands before our task reads the answer.
    account = PaymentAccount.objects.get(organization=owner.organization)
    client = stripe.StripeClient("sk_test_x", base_addresses={"api": fake_stripe.api_base})
    client.v1.payment_intents.create(params={
        "amount": 4_000, "currency": "usd", "customer": account.stripe_customer_id,
        "payment_method": account.default_payment_method_id, "off_session": True,
        "confirm": True, "metadata": {"payment_id": str(top_up.pk)}})
    deliver(*fake_stripe.take_pending())

    top_up.refresh_from_db()
    assert top_up.status == "paid"
    assert wallet_of(owner).balance == before + 40_000_000


def test_declines_notify_owners_and_disable_after_repeated_failure(
        card_on_file, fake_stripe, settings, work, check, opt_in):
    owner = card_on_file
    settings.AUTO_RECHARGE_MAX_FAILURES = 2
    account = PaymentAccount.objects.get(organization=owner.organization)
    fake_stripe.decline_off_session(account.stripe_customer_id, "insufficient_funds")
    mail.outbox.clear()
    opt_in(owner, "30", "40")
    work()

    [first] = top_ups(owner)
    assert first.status == "failed"
    account.refresh_from_db()
    assert (account.auto_recharge_enabled, account.auto_recharge_failures) == (True, 1)
    [email] = mail.outbox
    assert email.to == ["owner@northwind.test"]
    assert "failed" in email.subject and "try again" in email.body

    check(owner)  # still below the threshold: re-armed after the failure, so it tries again
    work()

    account.refresh_from_db()
    assert account.auto_recharge_enabled is False
    assert "2 failed top-ups" in account.auto_recharge_disabled_reason
    assert "switched off" in mail.outbox[-1].body
    assert [p.status for p in top_ups(owner)] == ["failed", "failed"]
    check(owner)
    assert len(top_ups(owner)) == 2
    assert wallet_of(owner).available == 25_000_000
    state = owner.api.get("/api/v1/auto-recharge").json()
    assert state["enabled"] is False and state["disabled_reason"]


def test_switching_off_before_the_charge_runs_charges_nothing(card_on_file, fake_stripe, opt_in,
                                                              work):
    owner = card_on_file
    opt_in(owner, "30", "40")  # fires at once: $25 is below $30; the charge task is queued
    response = owner.api.put("/api/v1/auto-recharge", {"enabled": False}, format="json")
    assert response.json()["enabled"] is False

    work()

    [top_up] = top_ups(owner)
    assert top_up.status == "failed"
    assert fake_stripe.objects("payment_intent")[-1]["metadata"].get("kind") != "auto_recharge"
    assert wallet_of(owner).available == 25_000_000
