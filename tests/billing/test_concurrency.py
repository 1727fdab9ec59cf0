"""Real parallel connections on PostgreSQL: each thread has its own database connection, all
start together, and the database alone decides who wins."""

import threading
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.db import connection
from django.utils import timezone

from accounts.models import Brand, User
from accounts.services import organization_create
from billing.models import PromoCode, PromoRedemption, Reservation, SpendCap, Wallet
from billing.promos import promo_redeem
from config.errors import DomainError
from generation.models import GenerationJob
from tests.billing.conftest import FLASH
from tests.conftest import make_tenant

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)

SUBMITTERS = 50


def race(count: int, work) -> list:
    """Run `work(i)` in `count` threads released at once; each result or exception, in order."""
    barrier = threading.Barrier(count)
    results: list = [None] * count

    def run(index):
        try:
            barrier.wait()
            results[index] = work(index)
        except Exception as error:  # noqa: BLE001 - the caller inspects every outcome
            results[index] = error
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


class AvailableWatcher:
    """Samples the wallet from its own connection while the race runs; keeps the minimum."""

    def __init__(self, organization):
        self.organization, self.lowest, self.done = organization, None, threading.Event()
        self.thread = threading.Thread(target=self._watch)

    def _watch(self):
        try:
            while not self.done.is_set():
                wallet = Wallet.objects.get(organization=self.organization)
                available = wallet.balance - wallet.reserved
                self.lowest = available if self.lowest is None else min(self.lowest, available)
        finally:
            connection.close()

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.done.set()
        self.thread.join()


def assert_books_balance():
    call_command("reconcile")  # raises SystemExit(1) on any difference


@pytest.mark.parametrize("affordable", [1, 7])
def test_fifty_submitters_on_a_wallet_that_pays_for_exactly_k(affordable):
    price = 39_000  # FLASH 1K
    payer = make_tenant("Race Agency", "race@agency.test",
                        credits=f"0.{affordable * price:06d}")

    def submit(_):
        return payer.api.post("/api/v1/generations", {"model": FLASH, "prompt": "race"},
                              format="json")

    with AvailableWatcher(payer.organization) as watcher:
        responses = race(SUBMITTERS, submit)

    statuses = sorted(response.status_code for response in responses)
    assert statuses == [202] * affordable + [402] * (SUBMITTERS - affordable)
    refused = [r.json()["error"]["code"] for r in responses if r.status_code == 402]
    assert set(refused) <= {"insufficient_credits"}
    wallet = Wallet.objects.get(organization=payer.organization)
    assert (wallet.balance, wallet.reserved) == (affordable * price, affordable * price)
    assert GenerationJob.objects.count() == Reservation.objects.count() == affordable
    assert watcher.lowest is not None and watcher.lowest >= 0
    assert_books_balance()


def test_concurrent_submitters_never_overrun_a_brand_cap():
    payer = make_tenant("Capped Agency", "capped@agency.test", credits="100")
    brand = Brand.objects.get(organization=payer.organization)
    SpendCap.objects.create(brand=brand, limit=5 * 39_000)

    responses = race(30, lambda _: payer.api.post(
        "/api/v1/generations", {"model": FLASH, "prompt": "cap", "brand": str(brand.pk)},
        format="json"))

    accepted = [r for r in responses if r.status_code == 202]
    assert len(accepted) == 5
    assert {r.json()["error"]["code"] for r in responses if r.status_code != 202} == \
        {"brand_budget_exceeded"}
    assert_books_balance()


def _organization(n: int):
    user = User.objects.create_user(email=f"promo{n}@race.test")
    return organization_create(name=f"Promo race {n}", owner=user, signup_credits=0)


def test_fifty_organizations_racing_for_k_redemptions():
    PromoCode.objects.create(code="FIRST7", amount=1_000_000, max_redemptions=7)
    organizations = [_organization(n) for n in range(SUBMITTERS)]

    outcomes = race(SUBMITTERS, lambda i: promo_redeem(organization=organizations[i],
                                                       code="FIRST7"))

    errors = [outcome for outcome in outcomes if isinstance(outcome, Exception)]
    assert len(errors) == SUBMITTERS - 7
    assert all(isinstance(error, DomainError) and error.code == "promo_exhausted"
               for error in errors)
    assert PromoRedemption.objects.count() == 7
    assert PromoCode.objects.get(code="FIRST7").redemptions == 7
    assert sum(Wallet.objects.values_list("balance", flat=True)) == 7_000_000
    assert_books_balance()


def test_one_organization_redeeming_twenty_times_at_once_is_credited_once():
    PromoCode.objects.create(code="ONCE", amount=2_000_000)
    payer = make_tenant("Eager Agency", "eager@agency.test", credits="0")

    responses = race(20, lambda _: payer.api.post("/api/v1/promo/redeem", {"code": "ONCE"},
                                                  format="json"))

    assert sorted(r.status_code for r in responses) == [201] + [409] * 19
    assert Wallet.objects.get(organization=payer.organization).balance == 2_000_000
    assert_books_balance()


def test_capture_and_sweep_racing_end_a_reservation_once():
    """A worker's capture and the sweeper's release arrive together: exactly one takes effect."""
    from billing.services import reservation_capture, reservation_open
    from billing.sweeps import reservations_sweep

    payer = make_tenant("Sweep Agency", "sweep@agency.test", credits="10")
    holds = [reservation_open(organization=payer.organization, amount=100_000,
                              reference=f"hold:{n}", expires_at=timezone.now() - timedelta(1))
             for n in range(10)]

    def work(index):
        if index == 0:
            return reservations_sweep()
        return reservation_capture(reservation=holds[index % 10])

    race(11, work)

    wallet = Wallet.objects.get(organization=payer.organization)
    assert wallet.reserved == 0
    assert not Reservation.objects.filter(status="open").exists()
    assert_books_balance()
