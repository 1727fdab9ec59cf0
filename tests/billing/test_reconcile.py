"""`reconcile` recomputes every wallet from its entries and open reservations, and exits
non-zero on any difference."""

import io

import pytest
from django.core.management import call_command
from django.db.models import F

from billing.models import Wallet
from tests.billing.conftest import PRO


def reconcile() -> tuple[int, str]:
    out, err = io.StringIO(), io.StringIO()
    try:
        call_command("reconcile", stdout=out, stderr=err)
    except SystemExit as exit_:
        return exit_.code, out.getvalue() + err.getvalue()
    return 0, out.getvalue()


def test_clean_books_after_real_traffic(owner, outsider, submit, run_queued_jobs):
    submit(owner, model=PRO, prompt="captured")
    run_queued_jobs()
    submit(owner, model=PRO, prompt="still held")
    submit(outsider, model=PRO, prompt="also held")
    code, output = reconcile()
    assert code == 0
    assert "every wallet matches" in output


@pytest.mark.parametrize("field", ["balance", "reserved"])
def test_a_tampered_total_is_reported_and_exits_non_zero(owner, outsider, submit, field):
    submit(owner, model=PRO, prompt="held")
    # Off by one micro-dollar; the constraint balance >= reserved still holds.
    Wallet.objects.filter(organization=owner.organization).update(**{field: F(field) + 1})

    code, output = reconcile()

    assert code == 1
    assert str(owner.organization.pk) in output
    assert str(outsider.organization.pk) not in output
