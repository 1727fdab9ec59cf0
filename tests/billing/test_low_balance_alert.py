"""A low-balance alert is one email per crossing below the threshold, however many jobs
push the balance further down; it re-arms once the balance is back above."""

import pytest
from django.core import mail

from billing.models import EntryKind, Wallet
from tests.billing.conftest import PRO, adjust, wallet_of
from tests.conftest import make_tenant


@pytest.fixture
def agency(db):
    actor = make_tenant("Lowbal Agency", "owner@lowbal.test", credits="1.00")
    Wallet.objects.filter(organization=actor.organization).update(
        low_balance_threshold=500_000)
    return actor


def spend(actor, submit, run_queued_jobs, count: int) -> None:
    for n in range(count):
        assert submit(actor, model=PRO, prompt=f"job {n}").status_code == 202
    run_queued_jobs()


def test_crossing_sends_one_email_not_one_per_job(agency, submit, run_queued_jobs,
                                                  django_capture_on_commit_callbacks):
    spend(agency, submit, run_queued_jobs, 3)  # 1.00 → 0.598: still above 0.50
    assert mail.outbox == []

    spend(agency, submit, run_queued_jobs, 3)  # crosses on the 4th, then keeps falling

    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["owner@lowbal.test"]
    assert "below $0.50" in message.subject
    assert "$0.196" in message.body  # the balance when the email was sent
    assert wallet_of(agency).low_balance_since is not None


def test_topping_up_re_arms_the_alert(agency, submit, run_queued_jobs,
                                      django_capture_on_commit_callbacks):
    spend(agency, submit, run_queued_jobs, 4)
    assert len(mail.outbox) == 1

    with django_capture_on_commit_callbacks(execute=True):
        adjust(agency, 1_000_000, kind=EntryKind.PURCHASE)  # 0.464 → 1.464
    assert wallet_of(agency).low_balance_since is None

    spend(agency, submit, run_queued_jobs, 8)  # → 0.392: a second crossing
    assert len(mail.outbox) == 2


def test_no_threshold_no_email(owner, submit, run_queued_jobs):
    spend(owner, submit, run_queued_jobs, 5)
    assert mail.outbox == []
    assert wallet_of(owner).low_balance_since is None


def test_an_alert_for_a_crossing_already_undone_is_not_sent(agency, submit, run_queued_jobs,
                                                           django_capture_on_commit_callbacks):
    for n in range(4):
        submit(agency, model=PRO, prompt=f"job {n}")  # the 4th reservation crosses
    with django_capture_on_commit_callbacks(execute=True):
        adjust(agency, 5_000_000, kind=EntryKind.PURCHASE)  # topped up before the task ran

    run_queued_jobs()

    assert mail.outbox == []


def test_released_holds_re_arm_the_alert(agency, submit, run_queued_jobs):
    jobs = [submit(agency, model=PRO, prompt=f"job {n}").json() for n in range(4)]
    assert wallet_of(agency).low_balance_since is not None  # 1.00 - 4 × 0.134 held = 0.464

    for job in jobs[:2]:
        assert agency.api.post(f"/api/v1/generations/{job['id']}/cancel").status_code == 200

    assert wallet_of(agency).low_balance_since is None  # 0.732 available again


def test_a_crossing_is_one_wallet_low_balance_webhook_event(agency, submit, run_queued_jobs,
                                                            django_capture_on_commit_callbacks,
                                                            settings):
    from generation.webhooks.models import WebhookMessage
    from generation.webhooks.services import webhook_endpoint_create

    settings.ALLOW_PRIVATE_WEBHOOK_URLS = True
    webhook_endpoint_create(organization=agency.organization, url="http://127.0.0.1:9/hook",
                            event_types=["wallet.low_balance"])

    spend(agency, submit, run_queued_jobs, 6)  # crosses on the 4th job, then keeps falling

    [message] = WebhookMessage.objects.filter(organization=agency.organization)
    assert message.event_type == "wallet.low_balance"
    assert message.payload["data"]["threshold"] == {"micros": 500_000, "usd": "0.50"}
    assert message.payload["data"]["available"]["micros"] < 500_000
