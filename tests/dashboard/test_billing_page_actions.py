"""The billing page's actions: buying (through the fake Stripe), payments and receipts, promo
codes, the low-balance threshold and auto-recharge; owners and admins only."""

import pytest

from billing.models import PromoCode, Wallet
from billing.payments.models import Payment, PaymentAccount
from tests.fakes.fake_stripe import running_fake_stripe


@pytest.fixture
def fake_stripe(settings):
    with running_fake_stripe() as fake:
        settings.STRIPE_SECRET_KEY = "sk_test_atelier"
        settings.STRIPE_API_BASE = fake.api_base
        settings.STRIPE_WEBHOOK_SECRET = fake.webhook_secret
        yield fake


def wallet(actor) -> Wallet:
    return Wallet.objects.get(organization=actor.organization)


def test_packs_show_their_bonus_and_a_custom_amount_previews_it(owner_client, fake_stripe):
    page = owner_client.get("/app/billing/").content.decode()
    assert "Buy $100.00" in page and "+$10.00 bonus" in page and "$110.00" in page
    assert "+10 % bonus from $100.00" in page

    preview = owner_client.get("/app/billing/bonus", {"amount": "250"}).json()
    assert preview["valid"] and preview["bonus"] == "$25.00" and preview["credits"] == "$275.00"
    assert owner_client.get("/app/billing/bonus", {"amount": "20"}).json()["bonus"] == "$0.00"
    too_big = owner_client.get("/app/billing/bonus", {"amount": "99999"}).json()
    assert not too_big["valid"] and "Custom amounts go from" in too_big["message"]


def test_buying_goes_to_stripe_and_the_return_credits_purchase_and_bonus(
        owner, owner_client, fake_stripe, django_capture_on_commit_callbacks):
    before = wallet(owner).balance
    response = owner_client.post("/billing/buy/", {"amount": "100"})
    assert response.status_code == 302
    assert response["Location"].startswith(fake_stripe.api_base + "/pay/")
    payment = Payment.objects.get(organization=owner.organization)
    fake_stripe.pay_checkout_session(payment.stripe_checkout_session_id)

    with django_capture_on_commit_callbacks(execute=True):
        page = owner_client.get(f"/billing/success/?session_id={payment.stripe_checkout_session_id}")

    assert page.status_code == 200
    html = page.content.decode()
    assert "$110.00 of credits were added" in html and 'class="sidebar"' in html  # dashboard layout
    assert wallet(owner).balance == before + 110_000_000
    billing = owner_client.get("/app/billing/").content.decode()
    assert "Paid" in billing and "+$10.00" in billing and "Receipt" in billing


def test_a_refused_purchase_is_a_message_not_a_crash(owner_client, fake_stripe):
    response = owner_client.post("/billing/buy/", {"amount": "0.50"}, follow=True)
    assert "Custom amounts go from" in response.content.decode()
    assert Payment.objects.count() == 0


def test_without_stripe_the_page_says_so_plainly(owner_client, settings):
    settings.STRIPE_SECRET_KEY = None
    page = owner_client.get("/app/billing/").content.decode()
    assert "Card payments are not configured on this installation" in page
    assert "Buy $100.00" not in page
    assert "Card payments are not configured" in owner_client.get("/billing/buy/").content.decode()


def test_the_ledger_filters_by_kind_and_the_csv_follows(owner, owner_client, submit,
                                                        run_queued_jobs):
    submit(owner, prompt="a")
    run_queued_jobs()
    page = owner_client.get("/app/billing/", {"kind": "capture"}).content.decode()
    ledger = page.split('id="ledger"')[1]
    assert "Capture" in ledger and "Signup Grant" not in ledger
    assert 'href="/api/v1/ledger.csv?kind=capture"' in page
    csv = b"".join(owner_client.get("/api/v1/ledger.csv?kind=capture").streaming_content)
    assert b"capture" in csv and b"signup_grant" not in csv
    assert owner_client.get("/app/billing/", {"kind": "nonsense"}).status_code == 400


def test_the_ledger_downloads_as_csv_with_the_session(owner_client):
    assert 'href="/api/v1/ledger.csv"' in owner_client.get("/app/billing/").content.decode()
    csv = owner_client.get("/api/v1/ledger.csv")
    assert csv.status_code == 200
    assert b"signup_grant" in b"".join(csv.streaming_content if csv.streaming else [csv.content])


def test_promo_code_redeemed_once(owner, owner_client):
    PromoCode.objects.create(code="LAUNCH5", amount=5_000_000)
    before = wallet(owner).balance

    first = owner_client.post("/app/billing/", {"action": "promo", "code": "launch5"}, follow=True)
    again = owner_client.post("/app/billing/", {"action": "promo", "code": "LAUNCH5"}, follow=True)
    unknown = owner_client.post("/app/billing/", {"action": "promo", "code": "NOPE"}, follow=True)

    assert "Promo code LAUNCH5 redeemed: $5.00 added." in first.content.decode()
    assert "already redeemed" in again.content.decode()
    assert "No such promo code." in unknown.content.decode() and unknown.status_code == 200
    assert wallet(owner).balance == before + 5_000_000


def test_low_balance_threshold_set_and_switched_off(owner, owner_client):
    page = owner_client.post("/app/billing/", {"action": "threshold", "threshold": "12.50"},
                             follow=True).content.decode()
    assert "below $12.50" in page
    assert wallet(owner).low_balance_threshold == 12_500_000
    bad = owner_client.post("/app/billing/", {"action": "threshold", "threshold": "-3"},
                            follow=True).content.decode()
    assert "must be a number of US dollars" in bad
    owner_client.post("/app/billing/", {"action": "threshold", "threshold": ""})
    assert wallet(owner).low_balance_threshold == 0


def test_auto_recharge_needs_a_saved_card_then_turns_on_and_off(owner, owner_client, fake_stripe):
    form = {"action": "auto_recharge", "enabled": "on", "threshold": "5", "amount": "50"}
    refused = owner_client.post("/app/billing/", form, follow=True).content.decode()
    assert "Buy credits once with a card first" in refused
    PaymentAccount.objects.filter(organization=owner.organization).update(
        default_payment_method_id="pm_saved")

    on = owner_client.post("/app/billing/", form, follow=True).content.decode()
    account = PaymentAccount.objects.get(organization=owner.organization)
    assert "Auto-recharge on: $50.00 when available credit drops below $5.00." in on
    assert (account.auto_recharge_enabled, account.auto_recharge_threshold,
            account.auto_recharge_amount) == (True, 5_000_000, 50_000_000)

    owner_client.post("/app/billing/", {"action": "auto_recharge"})
    assert not PaymentAccount.objects.get(organization=owner.organization).auto_recharge_enabled


def test_members_viewers_and_outsiders_cannot_touch_billing(owner, member_client, viewer_client,
                                                            outsider, outsider_client,
                                                            fake_stripe):
    PromoCode.objects.create(code="LAUNCH5", amount=5_000_000)
    before = wallet(owner).balance
    for client in (member_client, viewer_client):
        assert client.get("/app/billing/").status_code == 403
        assert client.post("/app/billing/", {"action": "promo", "code": "LAUNCH5"}).status_code == 403
        assert client.post("/billing/buy/", {"amount": "100"}).status_code == 403
        assert client.get("/app/billing/bonus", {"amount": "100"}).status_code == 403
    assert Payment.objects.count() == 0
    assert wallet(owner).balance == before
    # The outsider redeems for their own organization only.
    outsider_client.post("/app/billing/", {"action": "promo", "code": "LAUNCH5"})
    assert wallet(owner).balance == before
    assert wallet(outsider).balance == before + 5_000_000
