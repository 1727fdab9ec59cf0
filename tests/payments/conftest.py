"""Payments tests talk to the fake Stripe server through the real `stripe` library, and post
the fake's events, signed with the real scheme, to our webhook endpoint."""

import pytest

from billing.models import Wallet
from billing.payments.models import Payment
from tests.fakes.fake_stripe import running_fake_stripe

WEBHOOK = "/billing/stripe/webhook/"


@pytest.fixture
def fake_stripe(settings):
    with running_fake_stripe() as fake:
        settings.STRIPE_SECRET_KEY = "sk_test_atelier"
        settings.STRIPE_API_BASE = fake.api_base
        settings.STRIPE_WEBHOOK_SECRET = fake.webhook_secret
        yield fake


@pytest.fixture
def deliver(client, django_capture_on_commit_callbacks):
    """POST signed events to the webhook as Stripe would; returns the responses."""

    def _deliver(*signed_events):
        responses = []
        for signed in signed_events:
            with django_capture_on_commit_callbacks(execute=True):
                responses.append(client.post(WEBHOOK, data=signed.payload,
                                             content_type="application/json",
                                             HTTP_STRIPE_SIGNATURE=signed.signature))
        return responses

    return _deliver


@pytest.fixture
def checkout(django_capture_on_commit_callbacks):
    """Start a checkout through the API as `actor`; returns the response JSON (asserting 201)."""

    def _checkout(actor, **payload):
        response = actor.api.post("/api/v1/checkout", payload, format="json")
        assert response.status_code == 201, response.json()
        return response.json()

    return _checkout


@pytest.fixture
def paid(fake_stripe, checkout, deliver):
    """Buy `amount` as `actor` and deliver every resulting event; returns the Payment."""

    def _paid(actor, amount: str):
        session = checkout(actor, amount=amount)
        fake_stripe.pay_checkout_session(session["id"])
        deliver(*fake_stripe.take_pending())
        return Payment.objects.get(stripe_checkout_session_id=session["id"])

    return _paid


def wallet_of(actor) -> Wallet:
    return Wallet.objects.get(organization=actor.organization)
