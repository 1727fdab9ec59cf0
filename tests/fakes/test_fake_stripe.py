"""The fake Stripe server, exercised through the real `stripe` library and real HTTP.

Runs without Django: `pytest -p no:django --confcutdir=tests/fakes tests/fakes/test_fake_stripe.py`.
"""

import json
import random
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import anyio
import httpx
import pytest
import stripe

from tests.fakes.fake_stripe import (
    FakeStripe,
    StripeError,
    parse_form,
    running_fake_stripe,
    sign_payload,
)

API_KEY = "sk_test_atelier_fake"
SECRET = "whsec_test_for_the_fake"


@pytest.fixture
def fake():
    with running_fake_stripe(webhook_secret=SECRET) as server:
        yield server


@pytest.fixture
def client(fake):
    return stripe.StripeClient(API_KEY, base_addresses={"api": fake.api_base},
                               max_network_retries=0)


@pytest.fixture
def anyio_backend():
    return "asyncio"


def create_session(client, **overrides):
    params = {
        "mode": "payment",
        "line_items": [{
            "quantity": 2,
            "price_data": {"currency": "usd", "unit_amount": 1250,
                           "product_data": {"name": "Atelier credits"}},
        }],
        "metadata": {"organization_id": "42", "credits": "25.00"},
        "client_reference_id": "org_42",
        "success_url": "http://app.test/billing/success?session_id={CHECKOUT_SESSION_ID}",
        "cancel_url": "http://app.test/billing/",
        **overrides,
    }
    return client.v1.checkout.sessions.create(params)


def verify(signed, secret=SECRET):
    return stripe.Webhook.construct_event(signed.payload, signed.signature, secret)


class Receiver:
    """A tiny webhook endpoint that records every request and calls `on_request` with it."""

    def __init__(self, on_request=None):
        self.requests: list[tuple[dict[str, str], bytes]] = []
        self.status = 200
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.requests.append((dict(self.headers), body))
                if on_request:
                    on_request(dict(self.headers), body)
                self.send_response(receiver.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/billing/stripe/webhook/"

    def events(self, secret=SECRET):
        return [stripe.Webhook.construct_event(body, headers["Stripe-Signature"], secret)
                for headers, body in self.requests]


@contextmanager
def receiver(on_request=None):
    endpoint = Receiver(on_request)
    thread = threading.Thread(target=endpoint.server.serve_forever, daemon=True)
    thread.start()
    try:
        yield endpoint
    finally:
        endpoint.server.shutdown()
        endpoint.server.server_close()
        thread.join()


# -- the purchase flow through the real library ------------------------------------------------


def test_client_creates_customer_and_session_then_sees_it_paid(fake, client):
    customer = client.v1.customers.create({"email": "owner@northwind.test",
                                           "metadata": {"organization_id": "42"}})
    assert customer.id.startswith("cus_") and customer.object == "customer"
    assert customer.metadata.to_dict() == {"organization_id": "42"}

    session = create_session(client, customer=customer.id)
    assert session.object == "checkout.session" and session.id.startswith("cs_test_")
    assert session.url == f"{fake.api_base}/pay/{session.id}"
    assert (session.status, session.payment_status) == ("open", "unpaid")
    assert (session.amount_total, session.currency) == (2500, "usd")
    assert session.metadata.to_dict() == {"organization_id": "42", "credits": "25.00"}
    assert session.client_reference_id == "org_42" and session.customer == customer.id
    assert session.payment_intent is None

    fake.pay_checkout_session(session.id)

    paid = client.v1.checkout.sessions.retrieve(
        session.id, {"expand": ["payment_intent.latest_charge", "line_items"]})
    assert (paid.status, paid.payment_status) == ("complete", "paid")
    intent = paid.payment_intent
    assert intent.object == "payment_intent" and intent.id.startswith("pi_")
    assert (intent.status, intent.amount, intent.customer) == ("succeeded", 2500, customer.id)
    assert intent.latest_charge.id.startswith("ch_")
    assert intent.latest_charge.receipt_url.startswith(f"{fake.api_base}/receipts/ch_")
    item = paid.line_items.data[0]
    assert (item.quantity, item.price.unit_amount, item.description) == (2, 1250,
                                                                          "Atelier credits")

    found = client.v1.checkout.sessions.list({"payment_intent": intent.id})
    assert [s.id for s in found.data] == [session.id]
    assert client.v1.payment_intents.retrieve(intent.id).status == "succeeded"


def test_module_level_api_base(fake, monkeypatch):
    monkeypatch.setattr(stripe, "api_key", API_KEY)
    monkeypatch.setattr(stripe, "api_base", fake.api_base)
    monkeypatch.setattr(stripe, "max_network_retries", 0)

    customer = stripe.Customer.create(email="a@northwind.test", name="A")
    customer = stripe.Customer.modify(customer.id, metadata={"organization_id": "7"},
                                      name="Alice")
    assert (customer.name, customer.metadata["organization_id"]) == ("Alice", "7")
    method = fake.add_payment_method(customer.id)
    customer = stripe.Customer.modify(customer.id,
                                      invoice_settings={"default_payment_method": method["id"]})
    assert customer.invoice_settings.default_payment_method == method["id"]

    session = stripe.checkout.Session.create(
        mode="payment", customer=customer.id, success_url="http://app.test/ok",
        line_items=[{"quantity": 1, "price_data": {
            "currency": "usd", "unit_amount": 500, "product_data": {"name": "Credits"}}}])
    fake.pay_checkout_session(session.id)
    session = stripe.checkout.Session.retrieve(session.id, expand=["payment_intent"])
    assert session.payment_status == "paid" and session.payment_intent.status == "succeeded"
    assert stripe.Customer.retrieve(customer.id).email == "a@northwind.test"


def test_form_bodies_become_nested_params():
    pairs = [
        ("line_items[0][price_data][product_data][name]", "Credits"),
        ("line_items[0][price_data][unit_amount]", "500"),
        ("line_items[0][quantity]", "1"),
        ("line_items[1][quantity]", "3"),
        ("metadata[0]", "digit keys stay a hash"),
        ("expand[]", "payment_intent"),
        ("expand[]", "customer"),
        ("metadata[organization_id]", "42"),
    ]
    assert parse_form(pairs) == {
        "line_items": [
            {"price_data": {"product_data": {"name": "Credits"}, "unit_amount": "500"},
             "quantity": "1"},
            {"quantity": "3"},
        ],
        "metadata": {"0": "digit keys stay a hash", "organization_id": "42"},
        "expand": ["payment_intent", "customer"],
    }


def test_rejects_requests_without_a_test_secret_key(fake):
    for key in ("sk_live_123456789012345", "pk_test_123"):
        client = stripe.StripeClient(key, base_addresses={"api": fake.api_base})
        with pytest.raises(stripe.AuthenticationError):
            client.v1.customers.create({"email": "x@y.test"})

    response = httpx.post(f"{fake.api_base}/v1/customers", data={"email": "x@y.test"})
    assert response.status_code == 401
    assert response.json()["error"]["type"] == "invalid_request_error"
    assert "API key" in response.json()["error"]["message"]
    assert fake.objects("customer") == []


def test_unknown_and_missing_params_are_rejected_like_stripe(client):
    with pytest.raises(stripe.InvalidRequestError) as error:
        client.v1.customers.create({"emial": "typo@x.test"})  # type: ignore[typeddict-unknown-key]
    assert error.value.param == "emial"

    with pytest.raises(stripe.InvalidRequestError) as error:
        create_session(client, line_items=[{"quantity": 1, "price_data": {
            "currency": "usd", "unit_amount": 500, "product_data": {"nam": "typo"}}}])
    assert error.value.param == "line_items[0][price_data][product_data][nam]"

    with pytest.raises(stripe.InvalidRequestError) as error:
        create_session(client, customer="cus_doesnotexist")
    assert (error.value.http_status, error.value.code) == (404, "resource_missing")

    with pytest.raises(stripe.InvalidRequestError, match="at least"):
        create_session(client, line_items=[{"quantity": 1, "price_data": {
            "currency": "usd", "unit_amount": 10, "product_data": {"name": "Cheap"}}}])


# -- idempotency -------------------------------------------------------------------------------


def test_idempotency_key_replays_the_first_response(fake, client):
    first = client.v1.customers.create({"email": "a@x.test"}, {"idempotency_key": "signup-1"})
    again = client.v1.customers.create({"email": "a@x.test"}, {"idempotency_key": "signup-1"})
    assert again.id == first.id
    assert again.last_response.headers.get("Idempotent-Replayed") == "true"
    assert len(fake.objects("customer")) == 1

    with pytest.raises(stripe.IdempotencyError):
        client.v1.customers.create({"email": "b@x.test"}, {"idempotency_key": "signup-1"})
    with pytest.raises(stripe.IdempotencyError, match="same endpoint"):
        client.v1.refunds.create({"charge": "ch_x"}, {"idempotency_key": "signup-1"})

    # keys are per API key, as on Stripe: another account's identical key is a new request
    other = stripe.StripeClient("sk_test_other_account", base_addresses={"api": fake.api_base})
    assert other.v1.customers.create({"email": "a@x.test"},
                                      {"idempotency_key": "signup-1"}).id != first.id


def test_concurrent_requests_with_one_idempotency_key_make_one_object(fake, client):
    ids, errors = [], []

    def buy():
        try:
            session = client.v1.checkout.sessions.create(
                {"mode": "payment", "success_url": "http://app.test/ok",
                 "line_items": [{"quantity": 1, "price_data": {
                     "currency": "usd", "unit_amount": 900, "product_data": {"name": "Credits"}}}]},
                {"idempotency_key": "purchase-77"})
            ids.append(session.id)
        except Exception as error:  # surfaced by the assertion below
            errors.append(error)

    threads = [threading.Thread(target=buy) for _ in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(set(ids)) == 1 and len(ids) == 12
    assert len(fake.objects("checkout.session")) == 1


@pytest.mark.anyio
async def test_async_httpx_client_runs_requests_concurrently(fake):
    client = stripe.StripeClient(API_KEY, base_addresses={"api": fake.api_base},
                                 http_client=stripe.HTTPXClient())
    created = []

    async def create(n):
        customer = await client.v1.customers.create_async({"email": f"c{n}@x.test"})
        created.append(customer.id)

    async with anyio.create_task_group() as group:
        for n in range(10):
            group.start_soon(create, n)
    assert len(set(created)) == 10
    assert len(fake.objects("customer")) == 10


# -- events and signatures ---------------------------------------------------------------------


def test_events_pass_the_real_signature_check_and_fail_a_wrong_one(fake, client):
    session = create_session(client)
    fake.pay_checkout_session(session.id)
    signed = fake.take_pending()
    assert [s.event["type"] for s in signed] == ["payment_intent.succeeded",
                                                  "checkout.session.completed"]
    assert fake.pending_events() == []

    event = verify(signed[1])
    assert event.id.startswith("evt_") and event.object == "event"
    assert event.type == "checkout.session.completed" and event.livemode is False
    assert event.api_version == fake.api_version and isinstance(event.created, int)
    assert event.data.object.id == session.id and event.data.object.payment_status == "paid"
    assert event.data.object.metadata["organization_id"] == "42"

    with pytest.raises(stripe.SignatureVerificationError):
        verify(signed[1], secret="whsec_someone_else")
    stale = fake.sign_event(signed[1].event, timestamp=int(time.time()) - 301)
    with pytest.raises(stripe.SignatureVerificationError, match="tolerance"):
        verify(stale)
    with pytest.raises(stripe.SignatureVerificationError):
        stripe.Webhook.construct_event(signed[1].payload.replace(b'"paid"', b'"unpaid"'),
                                       signed[1].signature, SECRET)


def test_sign_payload_matches_the_library():
    payload = b'{"id": "evt_1", "object": "event"}'
    assert sign_payload(payload, SECRET, 1700000000) == \
        stripe.WebhookSignature.generate_signature_header(payload.decode(), SECRET, 1700000000)
    header = sign_payload(payload, SECRET)
    assert stripe.WebhookSignature.verify_header(payload, header, SECRET, tolerance=300)


def test_async_payment_completes_unpaid_then_succeeds_or_fails(fake, client):
    good, bad = create_session(client), create_session(client)
    for session in (good, bad):
        fake.pay_checkout_session(session.id, async_payment=True)
    completed = [verify(s) for s in fake.take_pending()]
    assert [e.type for e in completed] == ["checkout.session.completed"] * 2
    assert {e.data.object.payment_status for e in completed} == {"unpaid"}
    intent = client.v1.payment_intents.retrieve(
        client.v1.checkout.sessions.retrieve(good.id).payment_intent)
    assert intent.status == "processing"

    fake.settle_async_payment(good.id, succeeded=True)
    fake.settle_async_payment(bad.id, succeeded=False)
    later = {(e.type, e.data.object.id) for e in map(verify, fake.take_pending())}
    good_pi = client.v1.checkout.sessions.retrieve(good.id).payment_intent
    bad_pi = client.v1.checkout.sessions.retrieve(bad.id).payment_intent
    assert later == {
        ("payment_intent.succeeded", good_pi),
        ("checkout.session.async_payment_succeeded", good.id),
        ("payment_intent.payment_failed", bad_pi),
        ("checkout.session.async_payment_failed", bad.id),
    }
    assert client.v1.checkout.sessions.retrieve(good.id).payment_status == "paid"
    assert client.v1.checkout.sessions.retrieve(bad.id).payment_status == "unpaid"
    with pytest.raises(StripeError, match="no payment awaiting settlement"):
        fake.settle_async_payment(good.id)


def test_refunds_partial_then_full_emit_charge_refunded(fake, client):
    session = create_session(client)
    fake.pay_checkout_session(session.id)
    intent = client.v1.payment_intents.retrieve(
        client.v1.checkout.sessions.retrieve(session.id).payment_intent)
    fake.take_pending()

    refund = client.v1.refunds.create({"payment_intent": intent.id, "amount": 1000})
    assert refund.id.startswith("re_") and (refund.amount, refund.charge) == (
        1000, intent.latest_charge)
    rest = fake.refund_charge(intent.latest_charge)
    assert rest["amount"] == 1500
    with pytest.raises(stripe.InvalidRequestError) as error:
        client.v1.refunds.create({"charge": intent.latest_charge})
    assert error.value.code == "charge_already_refunded"

    refunded = [verify(s) for s in fake.take_pending()]
    assert [e.type for e in refunded] == ["charge.refunded", "charge.refunded"]
    charges = [e.data.object for e in refunded]
    assert [(c.amount_refunded, c.refunded) for c in charges] == [(1000, False), (2500, True)]
    assert refunded[0].data.previous_attributes.amount_refunded == 0
    assert refunded[0].request.id.startswith("req_") and refunded[1].request.id is None


def test_dispute_opens_and_closes_won_or_lost(fake, client):
    charges = []
    for _ in range(2):
        session = create_session(client)
        fake.pay_checkout_session(session.id)
        intent = client.v1.checkout.sessions.retrieve(session.id,
                                                      {"expand": ["payment_intent"]})
        charges.append(intent.payment_intent.latest_charge)
    fake.take_pending()

    won = fake.open_dispute(charges[0])
    lost = fake.open_dispute(charges[1], amount=2000, reason="product_not_received")
    assert won["id"].startswith("dp_") and won["status"] == "needs_response"
    with pytest.raises(stripe.InvalidRequestError) as error:
        client.v1.refunds.create({"charge": charges[0]})
    assert error.value.code == "charge_disputed"
    fake.close_dispute(won["id"], "won")
    fake.close_dispute(lost["id"], "lost")

    events = [verify(s) for s in fake.take_pending()]
    assert [(e.type, e.data.object.status) for e in events] == [
        ("charge.dispute.created", "needs_response"),
        ("charge.dispute.created", "needs_response"),
        ("charge.dispute.closed", "won"),
        ("charge.dispute.closed", "lost"),
    ]
    assert (events[1].data.object.amount, events[1].data.object.charge) == (2000, charges[1])
    assert client.v1.charges.retrieve(charges[0]).disputed is True


def test_saved_card_pays_off_session_until_the_decline_knob_is_set(fake, client):
    session = create_session(client, customer_email="buyer@northwind.test",
                             payment_intent_data={"setup_future_usage": "off_session"})
    fake.pay_checkout_session(session.id)
    session = client.v1.checkout.sessions.retrieve(session.id)
    assert session.customer.startswith("cus_")  # Checkout made one, to keep the card on
    methods = client.v1.payment_methods.list({"customer": session.customer, "type": "card"})
    assert [m.card.last4 for m in methods.data] == ["4242"]
    card = methods.data[0].id
    fake.take_pending()

    params = {"amount": 2000, "currency": "usd", "customer": session.customer,
              "payment_method": card, "off_session": True, "confirm": True,
              "metadata": {"reason": "auto-top-up"}}
    intent = client.v1.payment_intents.create(params)
    assert (intent.status, intent.metadata["reason"]) == ("succeeded", "auto-top-up")

    fake.decline_off_session(session.customer, "insufficient_funds")
    with pytest.raises(stripe.CardError) as error:
        client.v1.payment_intents.create(params, {"idempotency_key": "top-up-2"})
    assert error.value.code == "card_declined"
    body = error.value.json_body["error"]
    assert body["decline_code"] == "insufficient_funds"
    assert body["payment_intent"]["status"] == "requires_payment_method"
    with pytest.raises(stripe.CardError):  # the saved result is replayed, not retried
        client.v1.payment_intents.create(params, {"idempotency_key": "top-up-2"})
    assert [s.event["type"] for s in fake.take_pending()] == [
        "payment_intent.succeeded", "payment_intent.payment_failed"]

    fake.clear_declines()
    assert client.v1.payment_intents.create(params).status == "succeeded"


# -- delivery ----------------------------------------------------------------------------------


def test_delivers_signed_events_to_a_webhook_url_and_retries_failures(fake, client):
    with receiver() as endpoint:
        fake.configure_webhook(endpoint.url)
        session = create_session(client)
        fake.pay_checkout_session(session.id)
        assert [e.type for e in endpoint.events()] == ["payment_intent.succeeded",
                                                       "checkout.session.completed"]
        headers = endpoint.requests[0][0]
        assert headers["Content-Type"].startswith("application/json")
        assert headers["User-Agent"].startswith("Stripe/")
        assert fake.pending_events() == [] and all(d.ok for d in fake.deliveries)

        # An API call's events arrive in the background, as they do from Stripe.
        intent = client.v1.checkout.sessions.retrieve(session.id).payment_intent
        client.v1.refunds.create({"payment_intent": intent, "amount": 500})
        assert fake.wait_for_deliveries(timeout=5)
        assert endpoint.events()[-1].type == "charge.refunded"

        endpoint.status = 500
        fake.refund_charge(client.v1.payment_intents.retrieve(intent).latest_charge)
        assert [e["type"] for e in fake.pending_events()] == ["charge.refunded"]
        assert fake.deliveries[-1].status == 500

        endpoint.status = 200
        assert [d.ok for d in fake.deliver_pending()] == [True]
        assert fake.pending_events() == []
        assert [e.data.object.amount_refunded for e in endpoint.events()[-2:]] == [2500, 2500]


def test_webhook_handler_can_call_the_api_while_the_fake_delivers(fake, client):
    seen = []

    def handler(headers, body):  # what a real handler does: verify, then look the session up
        event = stripe.Webhook.construct_event(body, headers["Stripe-Signature"], SECRET)
        if event.type == "checkout.session.completed":
            seen.append(client.v1.checkout.sessions.retrieve(event.data.object.id).payment_status)

    with receiver(handler) as endpoint:
        fake.configure_webhook(endpoint.url)
        httpx.post(f"{fake.api_base}/_fake/checkout_sessions/{create_session(client).id}/pay")
    assert seen == ["paid"]


def test_events_replayed_shuffled_and_three_times_each_still_verify(fake, client):
    for _ in range(3):
        fake.pay_checkout_session(create_session(client).id)
    signed = fake.take_pending()
    storm = signed * 3
    random.Random(7).shuffle(storm)
    with receiver() as endpoint, httpx.Client() as http:
        for item in storm:
            response = http.post(endpoint.url, content=item.payload, headers=item.headers)
            assert response.status_code == 200
        counts = Counter(event.id for event in endpoint.events())
    assert len(counts) == 6 and set(counts.values()) == {3}


def test_fake_can_be_told_to_deliver_later(fake, client):
    with receiver() as endpoint:
        fake.configure_webhook(endpoint.url, auto_deliver=False)
        fake.pay_checkout_session(create_session(client).id)
        assert endpoint.requests == [] and len(fake.pending_events()) == 2
        httpx.post(f"{fake.api_base}/_fake/events/deliver").raise_for_status()
        assert len(endpoint.requests) == 2 and fake.pending_events() == []


# -- the hosted page and HTTP control endpoints ------------------------------------------------


def test_hosted_page_pays_and_returns_to_the_success_url(fake, client):
    session = create_session(client)
    page = httpx.get(session.url)
    assert page.status_code == 200 and "Atelier credits" in page.text
    assert f"/_fake/checkout_sessions/{session.id}/pay" in page.text

    response = httpx.post(f"{fake.api_base}/_fake/checkout_sessions/{session.id}/pay",
                          data={"email": "buyer@northwind.test"},
                          headers={"Accept": "text/html"})
    assert response.status_code == 303
    assert response.headers["Location"] == \
        f"http://app.test/billing/success?session_id={session.id}"
    paid = client.v1.checkout.sessions.retrieve(session.id)
    assert paid.payment_status == "paid"
    assert paid.customer_details.email == "buyer@northwind.test"
    charge = client.v1.payment_intents.retrieve(paid.payment_intent).latest_charge
    receipt = httpx.get(client.v1.charges.retrieve(charge).receipt_url)
    assert receipt.status_code == 200 and "25.00 USD" in receipt.text


def test_control_endpoints_over_http(fake, client):
    session = create_session(client)
    base = f"{fake.api_base}/_fake"
    paid = httpx.post(f"{base}/checkout_sessions/{session.id}/pay", json={}).json()
    assert paid["payment_status"] == "paid"
    charge = client.v1.payment_intents.retrieve(paid["payment_intent"]).latest_charge

    refund = httpx.post(f"{base}/charges/{charge}/refund", json={"amount": 100}).json()
    assert refund["object"] == "refund" and refund["amount"] == 100
    dispute = httpx.post(f"{base}/charges/{charge}/dispute", json={}).json()
    closed = httpx.post(f"{base}/disputes/{dispute['id']}/close", json={"status": "won"})
    assert closed.json()["status"] == "won"
    again = httpx.post(f"{base}/checkout_sessions/{session.id}/pay", json={})
    assert again.status_code == 400 and again.json()["error"]["type"] == "invalid_request_error"

    pending = httpx.get(f"{base}/events", params={"pending": "true"}).json()["data"]
    assert [p["event"]["type"] for p in pending] == [
        "payment_intent.succeeded", "checkout.session.completed", "charge.refunded",
        "charge.dispute.created", "charge.dispute.closed"]
    for item in pending:
        stripe.Webhook.construct_event(item["payload"], item["stripe_signature"], SECRET)

    # events can also be fetched back through the API, as Stripe's /v1/events
    listed = client.v1.events.list({"type": "charge.dispute.*"})
    assert [e.type for e in listed.data] == ["charge.dispute.closed", "charge.dispute.created"]


def test_standalone_command_serves_the_api():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    repo = Path(__file__).resolve().parents[2]
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.fakes.fake_stripe", "--port", str(port), "--quiet",
         "--webhook-secret", SECRET], cwd=repo, stdout=subprocess.PIPE, text=True)
    try:
        assert "Fake Stripe API at" in process.stdout.readline()
        client = stripe.StripeClient(API_KEY, base_addresses={"api": f"http://127.0.0.1:{port}"})
        assert client.v1.customers.create({"email": "cli@x.test"}).id.startswith("cus_")
    finally:
        process.terminate()
        process.wait(timeout=10)
        process.stdout.close()


def test_fake_can_be_used_without_the_context_manager():
    with FakeStripe(webhook_secret=SECRET) as server:
        client = stripe.StripeClient(API_KEY, base_addresses={"api": server.api_base})
        assert client.v1.customers.create().object == "customer"
    payload = json.dumps({"id": "evt_x", "object": "event"}).encode()
    assert sign_payload(payload, SECRET, 1).startswith("t=1,v1=")
