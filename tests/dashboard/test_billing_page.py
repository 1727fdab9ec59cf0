"""The billing page: balance, available credit, the ledger, and honest word on purchases."""

from billing.models import Wallet


def test_billing_page_shows_balance_available_and_ledger(owner, owner_client, submit,
                                                         run_queued_jobs):
    submit(owner, prompt="a", image_size="2K")
    run_queued_jobs()
    submit(owner, prompt="held")  # an open reservation: balance stays, available drops

    page = owner_client.get("/app/billing/").content.decode()
    wallet = Wallet.objects.get(organization=owner.organization)
    assert (wallet.balance, wallet.available) == (9_866_000, 9_732_000)
    assert "$9.866" in page and "$9.732" in page
    assert "Signup Grant" in page and "Capture" in page and "-$0.134" in page
    assert "Card payments are not configured on this installation" in page


def test_billing_is_for_owners_and_admins(member_client, viewer_client, outsider_client, owner):
    assert member_client.get("/app/billing/").status_code == 403
    assert viewer_client.get("/app/billing/").status_code == 403
    assert "$10.00" in outsider_client.get("/app/billing/").content.decode()
