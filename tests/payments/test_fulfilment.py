"""Fulfilment: a paid session credits its purchase and bonus exactly once, whether the webhook
or the success-page return comes first and however often events are redelivered."""

import time

from django.core import mail
from django.core.management import call_command

from billing.models import EntryKind, LedgerEntry
from billing.payments.models import Payment, StripeEvent
from tests.payments.conftest import WEBHOOK, wallet_of


def purchase_entries(actor):
    return sorted(LedgerEntry.objects.filter(
        wallet__organization=actor.organization, kind__in=[EntryKind.PURCHASE, EntryKind.BONUS])
        .values_list("kind", "amount", "idempotency_key"))


def test_paid_session_credits_purchase_and_bonus_once_despite_redelivery(
        owner, fake_stripe, checkout, deliver):
    before = wallet_of(owner).balance
    session = checkout(owner, amount="150")
    fake_stripe.pay_checkout_session(session["id"])
    events = fake_stripe.take_pending()
    assert {e.event["type"] for e in events} == {"checkout.session.completed",
                                                 "payment_intent.succeeded"}

    responses = deliver(*events, *events, *reversed(events))

    assert {r.status_code for r in responses} == {200}
    assert wallet_of(owner).balance == before + 165_000_000
    cs = session["id"]
    assert purchase_entries(owner) == [("bonus", 15_000_000, f"stripe:{cs}:bonus"),
                                       ("purchase", 150_000_000, f"stripe:{cs}:purchase")]
    completed = StripeEvent.objects.get(type="checkout.session.completed")
    assert (completed.status, completed.deliveries) == ("processed", 3)
    # A Checkout payment's intent succeeding is not a second reason to credit.
    assert StripeEvent.objects.get(type="payment_intent.succeeded").status == "ignored"
    payment = Payment.objects.get(stripe_checkout_session_id=cs)
    assert payment.status == "paid"
    assert payment.stripe_payment_intent_id == fake_stripe.get(cs)["payment_intent"]


def test_bad_signature_or_stale_timestamp_answers_400_and_changes_nothing(
        owner, fake_stripe, checkout, client):
    session = checkout(owner, amount="20")
    fake_stripe.pay_checkout_session(session["id"])
    [event] = fake_stripe.events_of_type("checkout.session.completed")
    before = wallet_of(owner).balance

    forged = fake_stripe.sign_event(event, secret="whsec_not_ours")
    stale = fake_stripe.sign_event(event, timestamp=int(time.time()) - 600)
    genuine = fake_stripe.sign_event(event)
    tampered = genuine.payload.replace(b'"paid"', b'"PAID"')
    for payload, signature in [(forged.payload, forged.signature),
                               (stale.payload, stale.signature),
                               (tampered, genuine.signature), (genuine.payload, "")]:
        response = client.post(WEBHOOK, data=payload, content_type="application/json",
                               HTTP_STRIPE_SIGNATURE=signature)
        assert response.status_code == 400
        assert response.json()["error"]["code"] == "invalid_signature"

    assert StripeEvent.objects.count() == 0
    assert wallet_of(owner).balance == before


def test_success_page_first_then_webhook_credits_once(
        owner, fake_stripe, checkout, deliver, client, django_capture_on_commit_callbacks):
    before = wallet_of(owner).balance
    session = checkout(owner, amount="100")
    fake_stripe.pay_checkout_session(session["id"])
    client.force_login(owner.user)

    with django_capture_on_commit_callbacks(execute=True):
        page = client.get(f"/billing/success/?session_id={session['id']}")

    assert page.status_code == 200
    assert b"$110.00 of credits were added" in page.content
    assert wallet_of(owner).balance == before + 110_000_000

    responses = deliver(*fake_stripe.take_pending())
    assert {r.status_code for r in responses} == {200}
    assert wallet_of(owner).balance == before + 110_000_000
    assert len(purchase_entries(owner)) == 2
    # Reloading the page changes nothing either.
    client.get(f"/billing/success/?session_id={session['id']}")
    assert wallet_of(owner).balance == before + 110_000_000


def test_success_page_shows_no_details_to_strangers(owner, outsider, fake_stripe, checkout,
                                                    client):
    session = checkout(owner, amount="100")
    fake_stripe.pay_checkout_session(session["id"])
    client.force_login(outsider.user)

    page = client.get(f"/billing/success/?session_id={session['id']}")

    assert page.status_code == 200
    assert b"Northwind" not in page.content
    assert b"credits were added" in page.content
    assert client.get("/billing/success/?session_id=cs_test_unknown").status_code == 404


def test_async_payment_success_credits_only_when_the_funds_arrive(
        owner, fake_stripe, checkout, deliver):
    before = wallet_of(owner).balance
    session = checkout(owner, amount="30")
    fake_stripe.pay_checkout_session(session["id"], async_payment=True)
    deliver(*fake_stripe.take_pending())
    payment = Payment.objects.get(stripe_checkout_session_id=session["id"])
    assert payment.status == "processing"
    assert wallet_of(owner).balance == before

    fake_stripe.settle_async_payment(session["id"], succeeded=True)
    deliver(*fake_stripe.take_pending())

    payment.refresh_from_db()
    assert payment.status == "paid"
    assert wallet_of(owner).balance == before + 30_000_000


def test_async_payment_failure_credits_nothing(owner, fake_stripe, checkout, deliver):
    before = wallet_of(owner).balance
    session = checkout(owner, amount="30")
    fake_stripe.pay_checkout_session(session["id"], async_payment=True)
    fake_stripe.settle_async_payment(session["id"], succeeded=False)
    events = fake_stripe.take_pending()

    deliver(*reversed(events))  # the failure overtakes the completion

    payment = Payment.objects.get(stripe_checkout_session_id=session["id"])
    assert payment.status == "failed"
    assert wallet_of(owner).balance == before
    listed = owner.api.get("/api/v1/payments").json()["data"][0]
    assert (listed["status"], listed["credits"]["usd"]) == ("failed", "30.00")


def test_receipt_email_and_payments_list_carry_the_stripe_receipt(
        owner, paid, run_queued_jobs, fake_stripe):
    payment = paid(owner, "100")

    run_queued_jobs()
    run_queued_jobs()  # a redelivered task sends nothing more

    [email] = mail.outbox
    assert email.to == ["owner@northwind.test"]
    assert "$110.00" in email.subject
    payment.refresh_from_db()
    assert payment.receipt_url.startswith(fake_stripe.api_base + "/receipts/ch_")
    assert payment.receipt_url in email.body
    [listed] = owner.api.get("/api/v1/payments").json()["data"]
    assert listed["status"] == "paid"
    assert (listed["amount"]["usd"], listed["bonus"]["usd"], listed["credits"]["usd"]) == \
        ("100.00", "10.00", "110.00")
    assert listed["receipt_url"] == payment.receipt_url
    call_command("reconcile")
