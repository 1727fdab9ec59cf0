"""Hypothesis drives random sequences of grants, reservations, captures, releases, purchases,
refunds and adjustments (including replays and double endings) against the real services, and
checks every money invariant after each step."""

import itertools
from datetime import timedelta

from django.db.models import Sum
from django.utils import timezone
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)

from accounts.models import User
from accounts.services import organization_create
from billing.models import EntryKind, LedgerEntry, Reservation, ReservationStatus, Wallet
from billing.services import (
    ledger_post,
    reservation_capture,
    reservation_open,
    reservation_release,
)
from config.errors import InsufficientCredits

_run = itertools.count()
THRESHOLD = 1_000_000  # the low-balance alert is armed on every wallet the machine drives
amounts = st.integers(min_value=1, max_value=3_000_000)
CREDIT_KINDS = [EntryKind.SIGNUP_GRANT, EntryKind.BONUS, EntryKind.PROMO]


class LedgerMachine(RuleBasedStateMachine):
    """The model is three numbers and a status per reservation; the database must agree."""

    def __init__(self):
        super().__init__()
        run = next(_run)
        user = User.objects.create_user(email=f"prop{run}@ledger.test")
        self.organization = organization_create(name=f"Prop {run}", owner=user,
                                                signup_credits=0)
        Wallet.objects.filter(organization=self.organization).update(
            low_balance_threshold=THRESHOLD)
        self.wallet = Wallet.objects.get(organization=self.organization)
        self.balance = 0
        self.reserved = 0
        self.keys: list[str] = []
        self.reservations: list[Reservation] = []
        self.status: dict[str, str] = {}
        self.steps = itertools.count()

    def _post(self, kind: str, amount: int, *, overdraw: bool = False) -> None:
        key = f"prop:{self.organization.pk}:{next(self.steps)}"
        if amount < 0 and self.balance + amount < (0 if overdraw else self.reserved):
            try:
                ledger_post(wallet=self.wallet, kind=kind, amount=amount, idempotency_key=key)
            except InsufficientCredits:
                return
            raise AssertionError("a debit beyond the available credit was accepted")
        ledger_post(wallet=self.wallet, kind=kind, amount=amount, idempotency_key=key)
        self.balance += amount
        self.keys.append(key)

    @initialize(amount=amounts)
    def first_purchase(self, amount):
        self._post(EntryKind.PURCHASE, amount)

    @rule(kind=st.sampled_from(CREDIT_KINDS), amount=amounts)
    def grant(self, kind, amount):
        self._post(kind, amount)

    @rule(amount=amounts)
    def purchase(self, amount):
        self._post(EntryKind.PURCHASE, amount)

    @rule(amount=amounts)
    def refund(self, amount):
        self._post(EntryKind.REFUND, amount)

    @rule(amount=st.integers(min_value=-3_000_000, max_value=3_000_000).filter(bool))
    def adjustment(self, amount):
        self._post(EntryKind.ADJUSTMENT, amount)

    @rule(amount=amounts)
    def clawback(self, amount):
        self._post(EntryKind.CLAWBACK, -amount)

    @precondition(lambda self: self.keys)
    @rule(data=st.data())
    def replay_an_entry(self, data):
        key = data.draw(st.sampled_from(self.keys))
        first = LedgerEntry.objects.get(idempotency_key=key)
        again = ledger_post(wallet=self.wallet, kind=first.kind, amount=first.amount,
                            idempotency_key=key)
        assert again.pk == first.pk

    @rule(amount=st.integers(min_value=0, max_value=3_000_000))
    def reserve(self, amount):
        reference = f"prop-hold:{self.organization.pk}:{next(self.steps)}"
        expires_at = timezone.now() + timedelta(hours=1)
        if amount > self.balance - self.reserved:
            try:
                reservation_open(organization=self.organization, amount=amount,
                                 reference=reference, expires_at=expires_at)
            except InsufficientCredits:
                return
            raise AssertionError("a reservation beyond the available credit was accepted")
        self.reservations.append(reservation_open(organization=self.organization, amount=amount,
                                                  reference=reference, expires_at=expires_at))
        self.reserved += amount
        self.status[reference] = ReservationStatus.OPEN

    @precondition(lambda self: self.reservations)
    @rule(data=st.data(), capture=st.booleans())
    def end(self, data, capture):
        """Capture or release any reservation, open or already ended."""
        reservation = data.draw(st.sampled_from(self.reservations))
        was_open = self.status[reservation.reference] == ReservationStatus.OPEN
        if capture:
            entry = reservation_capture(reservation=reservation)
            assert (entry is not None) == (was_open and reservation.amount > 0)
            if was_open:
                self.balance -= reservation.amount
                self.status[reservation.reference] = ReservationStatus.CAPTURED
        else:
            assert reservation_release(reservation=reservation) == was_open
            if was_open:
                self.status[reservation.reference] = ReservationStatus.RELEASED
        if was_open:
            self.reserved -= reservation.amount

    @invariant()
    def books_balance(self):
        wallet = Wallet.objects.get(pk=self.wallet.pk)
        entries = LedgerEntry.objects.filter(wallet=wallet)
        open_holds = Reservation.objects.filter(wallet=wallet, status=ReservationStatus.OPEN)
        assert wallet.balance == self.balance == (entries.aggregate(s=Sum("amount"))["s"] or 0)
        assert wallet.reserved == self.reserved == \
            (open_holds.aggregate(s=Sum("amount"))["s"] or 0)
        assert wallet.balance - wallet.reserved >= 0
        # Low-balance state follows every movement, whichever path moved the money.
        assert (wallet.low_balance_since is not None) == (wallet.available < THRESHOLD)
        last = entries.order_by("-created_at", "-id").first()
        assert (last.balance_after if last else 0) == wallet.balance

    @invariant()
    def each_reservation_ended_once(self):
        captured = {}
        for reference, amount in LedgerEntry.objects.filter(
                wallet=self.wallet, kind=EntryKind.CAPTURE).values_list("reference", "amount"):
            captured.setdefault(reference, []).append(amount)
        for reservation in Reservation.objects.filter(wallet=self.wallet):
            assert reservation.status == self.status[reservation.reference]
            charged = reservation.status == ReservationStatus.CAPTURED and reservation.amount
            assert captured.pop(reservation.reference, []) == \
                ([-reservation.amount] if charged else [])
            assert (reservation.ended_at is None) == (reservation.status == ReservationStatus.OPEN)
        assert captured == {}  # no capture without its reservation


def test_random_money_movements_keep_every_invariant(db):
    LedgerMachine.TestCase.settings = settings(
        max_examples=12, stateful_step_count=20, deadline=None,
        suppress_health_check=[HealthCheck.too_slow])
    LedgerMachine.TestCase().runTest()
