"""Every job's reservation ends exactly once, and `reconcile` proves the cached totals."""

import io

import pytest
from django.core.management import call_command
from django.db.models import F
from django.utils import timezone

from accounts.models import User
from accounts.services import organization_create
from billing.models import EntryKind, LedgerEntry, Reservation, ReservationStatus, Wallet
from billing.money import format_usd, parse_usd
from billing.services import (
    ledger_post,
    reservation_capture,
    reservation_open,
    reservation_release,
)
from config.errors import InsufficientCredits
from generation.models import GenerationJob, JobStatus
from generation.services import job_run


def wallet(actor) -> Wallet:
    return Wallet.objects.get(organization=actor.organization)


def reconcile_output() -> tuple[int, str]:
    out = io.StringIO()
    try:
        call_command("reconcile", stdout=out, stderr=out)
    except SystemExit as exit_:
        return exit_.code, out.getvalue()
    return 0, out.getvalue()


def test_signup_credits_come_from_the_rule(db):
    user = User.objects.create_user(email="new@signup.test")
    organization = organization_create(name="Fresh", owner=user)
    grant = LedgerEntry.objects.get(wallet__organization=organization)
    assert (grant.kind, grant.amount) == (EntryKind.SIGNUP_GRANT, 100_000)


def test_capture_twice_charges_once(owner):
    reservation = reservation_open(organization=owner.organization, amount=134_000,
                                   reference="job:test", expires_at=timezone.now())
    first = reservation_capture(reservation=reservation)
    second = reservation_capture(reservation=reservation)
    released_after = reservation_release(reservation=reservation)

    assert first is not None and second is None and released_after is False
    assert wallet(owner).balance == parse_usd("10") - 134_000
    assert wallet(owner).reserved == 0
    assert reconcile_output()[0] == 0


def test_release_returns_credit_without_a_ledger_entry(owner):
    entries = LedgerEntry.objects.count()
    reservation = reservation_open(organization=owner.organization, amount=500_000,
                                   reference="job:r", expires_at=timezone.now())
    assert wallet(owner).available == parse_usd("9.5")
    assert reservation_release(reservation=reservation) is True
    assert reservation_capture(reservation=reservation) is None
    assert wallet(owner).available == parse_usd("10")
    assert LedgerEntry.objects.count() == entries
    assert Reservation.objects.get().status == ReservationStatus.RELEASED


def test_debit_cannot_spend_reserved_credit(owner):
    reservation_open(organization=owner.organization, amount=parse_usd("9"), reference="job:big",
                     expires_at=timezone.now())
    with pytest.raises(InsufficientCredits):
        ledger_post(wallet=wallet(owner), kind=EntryKind.ADJUSTMENT, amount=-parse_usd("2"),
                    idempotency_key="adj:1", memo="test")
    assert wallet(owner).balance == parse_usd("10")


def test_posting_the_same_source_twice_moves_money_once(owner):
    for _ in range(3):
        ledger_post(wallet=wallet(owner), kind=EntryKind.ADJUSTMENT, amount=parse_usd("1"),
                    idempotency_key="adj:goodwill", memo="goodwill")
    assert wallet(owner).balance == parse_usd("11")


def test_ledger_entries_are_append_only(owner):
    entry = LedgerEntry.objects.filter(wallet=wallet(owner)).first()
    entry.memo = "rewritten"
    with pytest.raises(ValueError, match="append-only"):
        entry.save()
    with pytest.raises(ValueError, match="append-only"):
        entry.delete()


def test_redelivered_job_task_is_charged_once(owner, submit, run_queued_jobs):
    job = submit(owner, prompt="once only", image_size="2K").json()
    run_queued_jobs()
    job_run(job_id=job["id"])  # a duplicate delivery of the same task

    assert LedgerEntry.objects.filter(kind=EntryKind.CAPTURE).count() == 1
    assert GenerationJob.objects.get().status == JobStatus.SUCCEEDED
    assert wallet(owner).balance == parse_usd("10") - 134_000


def test_reconcile_is_clean_after_real_traffic_and_catches_tampering(owner, outsider, submit,
                                                                     run_queued_jobs):
    submit(owner, prompt="a", image_size="4K")
    submit(outsider, prompt="b")
    submit(owner, prompt="c")
    run_queued_jobs()
    code, output = reconcile_output()
    assert code == 0, output

    Wallet.objects.filter(organization=owner.organization).update(balance=F("balance") + 1)
    code, output = reconcile_output()
    assert code == 1
    assert str(owner.organization.pk) in output


def test_money_formatting_and_parsing_are_exact():
    assert parse_usd("0.134") == 134_000
    assert parse_usd("$25") == 25_000_000
    assert format_usd(134_000) == "0.134"
    assert format_usd(-2_500_000, symbol=True) == "-$2.50"
    for bad in ("1.1234567", "-1", "1e3", "abc", ""):
        with pytest.raises(ValueError):
            parse_usd(bad)


def test_wallet_constraint_refuses_negative_available_even_behind_the_services_back(owner):
    from django.db import IntegrityError, transaction

    with pytest.raises(IntegrityError), transaction.atomic():
        Wallet.objects.filter(organization=owner.organization).update(
            reserved=F("balance") + 1)
