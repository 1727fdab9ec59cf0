"""Reservations that outlive a finished (or missing) job are released; running jobs are left to
the job sweeper."""

from datetime import timedelta

from django.core.management import call_command
from django.utils import timezone
from django_q.models import Schedule

from billing.models import Reservation, ReservationStatus
from billing.services import reservation_open
from billing.sweeps import reservations_sweep
from billing.tasks import sweep_reservations
from generation.models import GenerationJob, JobStatus
from tests.billing.conftest import PRO, wallet_of


def expire(reference_or_reservation):
    Reservation.objects.filter(pk=reference_or_reservation.pk).update(
        expires_at=timezone.now() - timedelta(seconds=1))


def test_expired_reservation_of_a_finished_job_is_released_once(owner, submit):
    job = GenerationJob.objects.get(pk=submit(owner, model=PRO, prompt="x").json()["id"])
    # A job that ended without settling its hold (a crash between the two, an operator fix).
    GenerationJob.objects.filter(pk=job.pk).update(status=JobStatus.FAILED)
    expire(job.reservation)
    available = wallet_of(owner).available

    assert sweep_reservations() == 1
    assert reservations_sweep() == 0

    job.reservation.refresh_from_db()
    assert job.reservation.status == ReservationStatus.RELEASED
    assert wallet_of(owner).available == available + 134_000
    call_command("reconcile")


def test_expired_reservation_without_a_job_is_released(owner):
    orphan = reservation_open(organization=owner.organization, amount=50_000,
                              reference="orphan", expires_at=timezone.now() - timedelta(1))
    assert reservations_sweep() == 1
    orphan.refresh_from_db()
    assert orphan.status == ReservationStatus.RELEASED
    assert wallet_of(owner).reserved == 0


def test_running_queued_and_unexpired_holds_are_left_alone(owner, submit):
    running = GenerationJob.objects.get(pk=submit(owner, model=PRO, prompt="r").json()["id"])
    GenerationJob.objects.filter(pk=running.pk).update(status=JobStatus.RUNNING)
    expire(running.reservation)
    queued = GenerationJob.objects.get(pk=submit(owner, model=PRO, prompt="q").json()["id"])
    expire(queued.reservation)
    finished_recently = GenerationJob.objects.get(
        pk=submit(owner, model=PRO, prompt="f").json()["id"])
    GenerationJob.objects.filter(pk=finished_recently.pk).update(status=JobStatus.CANCELED)

    assert reservations_sweep() == 0
    assert Reservation.objects.filter(status=ReservationStatus.OPEN).count() == 3


def test_the_sweep_is_scheduled(db):
    schedule = Schedule.objects.get(func="billing.tasks.sweep_reservations")
    assert (schedule.schedule_type, schedule.minutes, schedule.repeats) == (Schedule.MINUTES, 5, -1)
