"""Refunds and disputes claw back the refunded share of credits and bonus, exactly once; what the
wallet cannot give back (spent, or held for running jobs) becomes debt that later purchases settle
first, so `available` never goes negative."""

from datetime import timedelta

from django.core.management import call_command
from django.utils import timezone

from billing.models import EntryKind, LedgerEntry
from billing.payments.models import PaymentAccount
from billing.payments.services import payment_account_unfreeze
from billing.services import ledger_post, reservation_open
from tests.payments.conftest import wallet_of


def charge_of(fake_stripe, payment) -> str:
    return fake_stripe.get(payment.stripe_payment_intent_id)["latest_charge"]


def spend(actor, usd: int):
    ledger_post(wallet=wallet_of(actor), kind=EntryKind.CAPTURE, amount=-usd * 1_000_000,
                idempotency_key=f"test-spend:{actor.organization.pk}:{usd}")


def account_of(actor) -> PaymentAccount:
    return PaymentAccount.objects.get(organization=actor.organization)


def test_partial_then_full_refund_claws_back_credits_and_bonus_proportionally_once(
        owner, fake_stripe, paid, deliver):
    start = wallet_of(owner).balance
    payment = paid(owner, "100")  # $100 + $10 bonus
    charge = charge_of(fake_stripe, payment)

    fake_stripe.refund_charge(charge, amount=4_000)  # $40 of $100
    first = fake_stripe.take_pending()
    deliver(*first, *first)

    assert wallet_of(owner).balance == start + 110_000_000 - 44_000_000
    payment.refresh_from_db()
    assert (payment.status, payment.amount_refunded) == ("partially_refunded", 40_000_000)

    fake_stripe.refund_charge(charge)  # the remaining $60
    second = fake_stripe.take_pending()
    deliver(*second, *first, *second)  # the older, smaller refund level arrives late: no effect

    assert wallet_of(owner).balance == start
    payment.refresh_from_db()
    assert payment.status == "refunded"
    clawbacks = LedgerEntry.objects.filter(wallet=wallet_of(owner), kind=EntryKind.CLAWBACK)
    assert sorted(clawbacks.values_list("amount", flat=True)) == [-66_000_000, -44_000_000]
    listed = owner.api.get("/api/v1/payments").json()["data"][0]
    assert (listed["status"], listed["amount_refunded"]["usd"], listed["clawed_back"]["usd"]) == \
        ("refunded", "100.00", "110.00")
    call_command("reconcile")


def test_refund_of_spent_credits_becomes_debt_settled_by_the_next_purchase(
        owner, fake_stripe, paid, deliver):
    payment = paid(owner, "20")  # wallet: $10 signup + $20
    spend(owner, 15)             # $15 left
    reservation_open(organization=owner.organization, amount=2_000_000, reference="job:running",
                     expires_at=timezone.now() + timedelta(hours=1))  # $13 available

    fake_stripe.refund_charge(charge_of(fake_stripe, payment))
    deliver(*fake_stripe.take_pending())

    wallet = wallet_of(owner)
    assert (wallet.balance, wallet.reserved, wallet.available) == (2_000_000, 2_000_000, 0)
    assert account_of(owner).debt == 7_000_000

    paid(owner, "50")

    wallet = wallet_of(owner)
    assert wallet.balance == 2_000_000 + 50_000_000 - 7_000_000
    assert account_of(owner).debt == 0
    settle = LedgerEntry.objects.get(wallet=wallet, idempotency_key__endswith=":debt")
    assert settle.amount == -7_000_000
    call_command("reconcile")


def test_refund_before_fulfilment_is_retried_until_the_payment_is_known(
        owner, fake_stripe, checkout, deliver):
    start = wallet_of(owner).balance
    session = checkout(owner, amount="40")
    fake_stripe.pay_checkout_session(session["id"])
    paid_events = fake_stripe.take_pending()
    intent = fake_stripe.get(session["id"])["payment_intent"]
    fake_stripe.refund_charge(fake_stripe.get(intent)["latest_charge"])
    refund_events = fake_stripe.take_pending()

    [early] = deliver(*refund_events)
    assert early.status_code == 500  # stored as failed; Stripe delivers it again later
    deliver(*paid_events, *refund_events)

    assert wallet_of(owner).balance == start
    call_command("reconcile")


def test_dispute_claws_back_freezes_and_flags_then_a_win_restores(
        owner, fake_stripe, paid, deliver):
    start = wallet_of(owner).balance
    payment = paid(owner, "100")
    spend(owner, 100)  # $20 left of $120: $90 of the $110 clawback becomes debt

    dispute = fake_stripe.open_dispute(charge_of(fake_stripe, payment))
    opened = fake_stripe.take_pending()
    deliver(*opened, *opened)

    assert wallet_of(owner).balance == 0
    account = account_of(owner)
    assert account.debt == 90_000_000
    assert account.purchases_frozen_at is not None and account.flagged_at is not None
    assert dispute["id"] in account.flag_reason
    refused = owner.api.post("/api/v1/checkout", {"amount": "20"}, format="json")
    assert (refused.status_code, refused.json()["error"]["code"]) == (403, "purchases_frozen")
    assert owner.api.get("/api/v1/payments").json()["data"][0]["status"] == "disputed"

    fake_stripe.close_dispute(dispute["id"], status="won")
    won = fake_stripe.take_pending()
    deliver(*won, *won)

    # Net position restored: the debt is forgiven first, the rest credited.
    assert account_of(owner).debt == 0
    assert wallet_of(owner).balance == start + 110_000_000 - 100_000_000
    payment.refresh_from_db()
    assert payment.status == "paid"
    # Staff lift the freeze after review.
    assert account_of(owner).purchases_frozen_at is not None
    payment_account_unfreeze(account=account_of(owner))
    assert owner.api.post("/api/v1/checkout", {"amount": "20"}, format="json").status_code == 201
    call_command("reconcile")


def test_lost_dispute_keeps_the_clawback(owner, fake_stripe, paid, deliver):
    start = wallet_of(owner).balance
    payment = paid(owner, "50")
    dispute = fake_stripe.open_dispute(charge_of(fake_stripe, payment))
    fake_stripe.close_dispute(dispute["id"], status="lost")
    deliver(*fake_stripe.take_pending())

    assert wallet_of(owner).balance == start
    call_command("reconcile")
