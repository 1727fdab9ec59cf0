"""Buying credits in a real browser: sign up → billing → a pack with its bonus → the fake
Stripe's hosted payment page → back on the success page → the balance holds purchase + bonus."""

import re

import pytest
from playwright.sync_api import expect

from billing.models import EntryKind, LedgerEntry, Wallet
from tests.fakes.fake_stripe import running_fake_stripe

pytestmark = [pytest.mark.browser,
              pytest.mark.django_db(transaction=True, serialized_rollback=True)]

WEBHOOK_SECRET = "whsec_browser_test"


@pytest.fixture
def stripe_for_live_server(live_server, settings):
    """The fake Stripe, posting its signed events to the live server's webhook."""
    with running_fake_stripe(webhook_url=f"{live_server.url}/billing/stripe/webhook/",
                             webhook_secret=WEBHOOK_SECRET) as fake:
        settings.STRIPE_SECRET_KEY = "sk_test_browser"
        settings.STRIPE_API_BASE = fake.api_base
        settings.STRIPE_WEBHOOK_SECRET = WEBHOOK_SECRET
        settings.PUBLIC_BASE_URL = live_server.url  # Stripe's return address
        yield fake


def test_sign_up_buy_credits_with_a_bonus_and_see_the_balance(page, stripe_for_live_server):
    fake = stripe_for_live_server
    page.goto("/signup/")
    page.fill("#id_email", "buyer@example.test")
    page.fill("#id_password", "a long passphrase")
    page.fill("#id_organization", "Pixel Agency")
    page.click("button[type=submit]")
    expect(page.get_by_test_id("available")).to_have_text("$0.10")

    page.click("nav >> text=Billing")
    expect(page.locator("#packs")).to_contain_text("+$10.00 bonus")
    page.fill("#amount", "250")
    expect(page.get_by_test_id("bonus-preview")).to_contain_text("$275.00 of credits in total")

    page.click("#packs >> text=Buy $100.00")
    page.wait_for_url(re.compile(r"/pay/cs_"))
    expect(page.locator("body")).to_contain_text("$10.00 bonus")  # Stripe's page shows it too
    page.click("button:has-text('Pay')")

    page.wait_for_url(re.compile(r"/billing/success/\?session_id=cs_"))
    expect(page.get_by_test_id("payment-result")).to_contain_text(
        "$110.00 of credits were added to Pixel Agency, including a $10.00 bonus")
    page.click("text=Back to billing")
    expect(page.get_by_test_id("balance")).to_have_text("$110.10")
    expect(page.locator("#payments")).to_contain_text("Paid")
    expect(page.locator("#ledger")).to_contain_text("Bonus")

    fake.wait_for_deliveries()  # the webhook arrives too, and credits nothing more
    wallet = Wallet.objects.get(organization__name="Pixel Agency")
    assert wallet.balance == 110_100_000
    assert LedgerEntry.objects.filter(wallet=wallet, kind__in=[EntryKind.PURCHASE,
                                                               EntryKind.BONUS]).count() == 2
