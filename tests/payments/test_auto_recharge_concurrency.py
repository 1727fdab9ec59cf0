"""Never two top-ups for one crossing, even when many captures check at the same moment."""

import threading

import pytest
from django.db import connection

from billing.payments.models import Payment, PaymentAccount, PaymentKind
from billing.payments.services import auto_recharge_check
from tests.payments.test_clawbacks import spend

CHECKERS = 8


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_concurrent_checks_during_one_crossing_create_one_top_up(owner):
    PaymentAccount.objects.create(
        organization=owner.organization, stripe_customer_id="cus_test",
        default_payment_method_id="pm_test", auto_recharge_enabled=True,
        auto_recharge_threshold=5_000_000, auto_recharge_amount=20_000_000)
    spend(owner, 6)  # $10 signup credits → $4 available, below the $5 threshold
    start = threading.Barrier(CHECKERS)

    def check():
        try:
            start.wait()
            auto_recharge_check(organization_id=owner.organization.pk)
        finally:
            connection.close()

    threads = [threading.Thread(target=check) for _ in range(CHECKERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    [top_up] = Payment.objects.filter(organization=owner.organization,
                                      kind=PaymentKind.AUTO_RECHARGE)
    assert (top_up.amount, top_up.auto_recharge_sequence) == (20_000_000, 1)
    account = PaymentAccount.objects.get(organization=owner.organization)
    assert account.auto_recharge_armed is False
