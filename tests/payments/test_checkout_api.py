"""Starting a purchase: packs and custom amounts become Stripe Checkout Sessions for the
organization's one Stripe customer, with the bonus shown before paying."""

import stripe
from django.test import override_settings

from billing.payments.models import BonusRule, Payment, PaymentAccount


def test_pack_checkout_creates_a_session_showing_the_bonus(owner, fake_stripe, checkout):
    packs = owner.api.get("/api/v1/credit-packs").json()
    assert packs["payments_available"] is True
    by_price = {pack["amount"]["usd"]: pack for pack in packs["data"]}
    assert sorted(by_price, key=float) == ["10.00", "50.00", "100.00", "500.00"]
    assert by_price["50.00"]["bonus"]["usd"] == "0.00"
    assert by_price["100.00"]["bonus"]["usd"] == "10.00"
    assert by_price["500.00"]["credits"]["usd"] == "550.00"

    session = checkout(owner, pack=by_price["100.00"]["id"])

    assert session["url"].startswith(fake_stripe.api_base + "/pay/cs_test_")
    assert (session["amount"]["usd"], session["bonus"]["usd"], session["credits"]["usd"]) == \
        ("100.00", "10.00", "110.00")
    assert session["bonus_percent"] == "10"
    stored = fake_stripe.get(session["id"])
    assert stored["mode"] == "payment"
    assert stored["amount_total"] == 10_000
    assert stored["success_url"].endswith("/billing/success/?session_id={CHECKOUT_SESSION_ID}")
    assert "/billing/cancel/" in stored["cancel_url"]
    client = stripe.StripeClient("sk_test_x", base_addresses={"api": fake_stripe.api_base})
    [item] = client.v1.checkout.sessions.line_items.list(session["id"]).data
    assert item.description == "Atelier credits $100.00 + $10.00 bonus"
    payment = Payment.objects.get(stripe_checkout_session_id=session["id"])
    assert (payment.status, payment.amount, payment.bonus) == ("pending", 100_000_000, 10_000_000)


def test_the_stripe_customer_is_created_once_and_reused(owner, fake_stripe, checkout):
    first = checkout(owner, amount="12.34")
    second = checkout(owner, amount="20")

    [customer] = fake_stripe.objects("customer")
    assert customer["metadata"] == {"organization_id": str(owner.organization.pk)}
    assert fake_stripe.get(first["id"])["customer"] == customer["id"]
    assert fake_stripe.get(second["id"])["customer"] == customer["id"]
    assert PaymentAccount.objects.get(organization=owner.organization).stripe_customer_id == \
        customer["id"]
    assert first["amount"]["usd"] == "12.34"
    assert fake_stripe.get(first["id"])["amount_total"] == 1234


def test_custom_amounts_must_be_whole_cents_within_the_limits(owner, fake_stripe, settings):
    settings.PURCHASE_MIN_USD, settings.PURCHASE_MAX_USD = 5, 1000
    for amount, code in [("4.99", "amount_out_of_range"), ("1000.01", "amount_out_of_range"),
                         ("10.001", "invalid_amount"), ("ten", "invalid_amount")]:
        response = owner.api.post("/api/v1/checkout", {"amount": amount}, format="json")
        assert response.status_code == 400, amount
        assert response.json()["error"]["code"] == code
        assert response.json()["error"]["param"] == "amount"
    neither = owner.api.post("/api/v1/checkout", {}, format="json")
    assert neither.status_code == 400
    unknown_pack = owner.api.post("/api/v1/checkout", {"pack": 9999}, format="json")
    assert unknown_pack.status_code == 404
    assert Payment.objects.count() == 0
    assert fake_stripe.objects("checkout.session") == []


def test_without_stripe_purchases_answer_payments_unavailable(owner, client):
    with override_settings(STRIPE_SECRET_KEY=None):
        response = owner.api.post("/api/v1/checkout", {"amount": "20"}, format="json")
        assert response.status_code == 503
        assert response.json()["error"]["code"] == "payments_unavailable"
        assert owner.api.get("/api/v1/credit-packs").json()["payments_available"] is False
        client.force_login(owner.user)
        page = client.get("/billing/buy/")
        assert page.status_code == 200
        assert b"Card payments are not configured" in page.content
        assert b"Card payments are not configured" in client.get("/billing/success/").content
    assert Payment.objects.count() == 0


def test_members_cannot_buy_and_outsiders_see_no_payments(owner, member, outsider, paid):
    paid(owner, "20")

    response = member.api.post("/api/v1/checkout", {"amount": "20"}, format="json")
    assert response.status_code == 403
    assert member.api.get("/api/v1/payments").status_code == 403
    assert outsider.api.get("/api/v1/payments").json()["data"] == []
    assert len(owner.api.get("/api/v1/payments").json()["data"]) == 1


def test_buy_page_redirects_to_stripe_checkout(owner, fake_stripe, client):
    client.force_login(owner.user)
    page = client.get("/billing/buy/")
    assert b"+$10.00 bonus" in page.content

    response = client.post("/billing/buy/", {"amount": "25"})

    assert response.status_code == 302
    assert response["Location"].startswith(fake_stripe.api_base + "/pay/")
    assert b"Nothing was charged" in client.get("/billing/cancel/").content


def test_the_highest_bonus_tier_reached_applies(owner, fake_stripe, checkout):
    BonusRule.objects.create(min_amount=500_000_000, bonus_bp=1500)
    BonusRule.objects.create(min_amount=50_000_000, bonus_bp=500, active=False)

    bonuses = {amount: checkout(owner, amount=amount)["bonus"]["usd"]
               for amount in ["99.99", "100", "499.99", "500", "750"]}

    assert bonuses == {"99.99": "0.00", "100": "10.00", "499.99": "49.999",
                       "500": "75.00", "750": "112.50"}


def test_webhook_without_a_configured_secret_answers_503(client, settings):
    settings.STRIPE_WEBHOOK_SECRET = None
    response = client.post("/billing/stripe/webhook/", data=b"{}", content_type="application/json",
                           HTTP_STRIPE_SIGNATURE="t=1,v1=00")
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "payments_unavailable"
