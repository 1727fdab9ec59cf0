"""The replay storm: every event of many sessions delivered three times, shuffled, by concurrent
senders over real HTTP to a live server, racing the success-page returns. Credits must equal
exactly the paid sessions plus their bonuses, and `reconcile` must find nothing."""

import random
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from django.core.management import call_command

from billing.models import EntryKind, LedgerEntry
from billing.payments.models import Payment, StripeEvent
from tests.payments.conftest import WEBHOOK, wallet_of

SENDERS = 6


# serialized_rollback: put back the seeded prices, packs and bonus rules for later tests.
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_replay_storm_credits_each_paid_session_exactly_once(
        owner, fake_stripe, checkout, live_server):
    start = wallet_of(owner).balance
    # (amount, how it is paid); bonuses: +10 % at $100 and above.
    plan = [("10", "card"), ("50", "card"), ("100", "card"), ("500", "card"), ("12.34", "card"),
            ("250", "card"), ("20", "async_ok"), ("120", "async_ok"), ("30", "async_fail"),
            ("40", "open"), ("75", "card"), ("99.99", "card")]
    expected = 0
    sessions = []
    for amount, how in plan:
        session = checkout(owner, amount=amount)
        sessions.append(session["id"])
        if how == "open":
            continue
        fake_stripe.pay_checkout_session(session["id"], async_payment=how != "card")
        if how.startswith("async"):
            fake_stripe.settle_async_payment(session["id"], succeeded=how == "async_ok")
        if how != "async_fail":
            expected += session["credits"]["micros"]
    events = fake_stripe.take_pending()
    deliveries = [("event", signed) for signed in events * 3]
    deliveries += [("return", session_id) for session_id in sessions[::2]]
    random.Random(4).shuffle(deliveries)

    def send(batch):
        statuses = []
        with httpx.Client(base_url=live_server.url, timeout=30) as http:
            for kind, item in batch:
                if kind == "event":
                    response = http.post(WEBHOOK, content=item.payload, headers=item.headers)
                else:
                    response = http.get("/billing/success/", params={"session_id": item})
                statuses.append((kind, response.status_code))
        return statuses

    with ThreadPoolExecutor(SENDERS) as pool:
        results = [status for batch in pool.map(send, [deliveries[i::SENDERS]
                                                       for i in range(SENDERS)])
                   for status in batch]

    assert {status for kind, status in results if kind == "event"} == {200}
    assert wallet_of(owner).balance == start + expected
    paid = Payment.objects.filter(organization=owner.organization, paid_at__isnull=False)
    assert paid.count() == 10
    entries = LedgerEntry.objects.filter(wallet=wallet_of(owner),
                                         kind__in=[EntryKind.PURCHASE, EntryKind.BONUS])
    assert entries.filter(kind=EntryKind.PURCHASE).count() == 10
    assert entries.filter(kind=EntryKind.BONUS).count() == 4  # $100, $500, $250 and $120
    assert StripeEvent.objects.count() == len(events)
    assert set(StripeEvent.objects.values_list("deliveries", flat=True)) == {3}
    assert set(StripeEvent.objects.values_list("status", flat=True)) <= {"processed", "ignored"}
    statuses = dict(Payment.objects.filter(organization=owner.organization)
                    .values_list("stripe_checkout_session_id", "status"))
    assert statuses[sessions[8]] == "failed" and statuses[sessions[9]] == "pending"
    call_command("reconcile")
