"""A small fake of the Stripe API, for tests and for clicking through a purchase on one machine.

It implements only what Atelier's credit-purchase flow calls, but speaks the real wire format so
the real `stripe` library can talk to it: form-encoded requests (`a[b]=c`, `line_items[0][...]`,
`expand[0]=...`), Bearer `sk_test_...` auth, JSON objects with `object` fields and real id
prefixes, Stripe's error shape, and Stripe's Idempotency-Key semantics on POST. Webhook events are
signed with the real `Stripe-Signature` scheme, so they pass `stripe.Webhook.construct_event`.

API (`/v1`, needs `Authorization: Bearer sk_test_...`):
    POST /v1/customers, GET|POST /v1/customers/{id}, GET /v1/customers/{id}/payment_methods
    POST|GET /v1/checkout/sessions, GET /v1/checkout/sessions/{id}[/line_items]
    POST /v1/payment_intents, GET /v1/payment_intents/{id}, POST /v1/payment_intents/{id}/confirm
    GET /v1/payment_methods?customer=..., GET /v1/payment_methods/{id}
    POST /v1/refunds, GET /v1/refunds/{id}, GET /v1/charges[/{id}], GET /v1/disputes/{id}
    GET /v1/events[/{id}]

Pages (no auth): GET /pay/{session_id} is the hosted checkout page; GET /receipts/{charge_id}.

Test control (no auth; JSON or form bodies; answer JSON, or 303 to a page if Accept is HTML):
    POST /_fake/checkout_sessions/{id}/pay            {"async": false, "email": .., "name": ..}
    POST /_fake/checkout_sessions/{id}/async_payment_succeeded  (or .../async_payment_failed)
    POST /_fake/charges/{id}/refund                   {"amount": optional, in cents}
    POST /_fake/charges/{id}/dispute                  {"amount": optional, "reason": ..}
    POST /_fake/disputes/{id}/close                   {"status": "won" | "lost"}
    POST /_fake/customers/{id}/decline_off_session    {"decline_code": "generic_decline"}
    DELETE /_fake/customers/{id}/decline_off_session
    POST /_fake/customers/{id}/payment_methods        saves a card on the customer
    GET  /_fake/events[?pending=true]                 events; pending ones with signed payloads
    POST /_fake/events/deliver                        {"url": optional}: deliver pending now
    POST /_fake/webhook                               {"url", "secret", "auto_deliver": true}
    POST /_fake/reset

In Python tests:
    with running_fake_stripe(webhook_url=None) as fake:
        client = stripe.StripeClient("sk_test_x", base_addresses={"api": fake.api_base})
        session = client.v1.checkout.sessions.create({...})
        fake.pay_checkout_session(session.id)
        for signed in fake.take_pending():      # or let the fake POST them to webhook_url
            stripe.Webhook.construct_event(signed.payload, signed.signature, fake.webhook_secret)

Python control methods on the object: pay_checkout_session(id, async_payment=False),
settle_async_payment(id, succeeded=True), refund_charge(id, amount=None),
open_dispute(id, amount=None), close_dispute(id, "won" | "lost"), decline_off_session(customer,
decline_code), clear_declines(), add_payment_method(customer), configure_webhook(url), reset();
and for events: events, pending_events(), take_pending(), sign_event(), deliver(),
deliver_pending(), deliveries, wait_for_deliveries().

As on Stripe: a session's `metadata` stays on the session (the PaymentIntent gets only
`payment_intent_data[metadata]`); the PaymentIntent exists only once the session is paid; a card
saved with `setup_future_usage` is attached to the customer (Checkout creates one if needed) but
is not made the customer's default; bank debits (`async_payment`) make `py_` charges.

Events made by control methods are delivered before the method returns (deterministic tests);
events made by API calls (a confirmed PaymentIntent, a refund) are delivered from a background
thread, as Stripe does, so that the caller's own request and transaction are not blocked by its
webhook handler; `wait_for_deliveries()` waits for those.

Standalone (serves until Ctrl-C):
    python -m tests.fakes.fake_stripe --port 12111 \\
        --webhook-url http://127.0.0.1:8000/billing/stripe/webhook/ --webhook-secret whsec_...
then point the app at it (STRIPE api base http://127.0.0.1:12111, any sk_test_ key) and open the
checkout session's `url` in a browser.
"""

from __future__ import annotations

import argparse
import base64
import copy
import hashlib
import hmac
import html
import json
import re
import secrets
import string
import threading
import time
import traceback
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from decimal import Decimal, InvalidOperation
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

try:
    import stripe as _stripe

    API_VERSION: str = _stripe.api_version
except ImportError:  # the fake itself only needs the standard library
    API_VERSION = "2026-10-28.endive"

DEFAULT_WEBHOOK_SECRET = "whsec_test_fake_stripe_0123456789abcdef"
WEBHOOK_USER_AGENT = "Stripe/1.0 (+https://stripe.com/docs/webhooks)"
ANY = None  # schema leaf: any value is accepted


def sign_payload(payload: bytes, secret: str, timestamp: int | None = None) -> str:
    """The `Stripe-Signature` header value Stripe would send for this exact body."""
    if timestamp is None:
        timestamp = int(time.time())
    signed = f"{timestamp}.".encode() + payload
    digest = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


@dataclass(frozen=True)
class SignedEvent:
    """One event as Stripe would POST it: the exact body bytes and the signature over them."""

    event: dict[str, Any]
    payload: bytes
    signature: str

    @property
    def headers(self) -> dict[str, str]:
        return {
            "Content-Type": "application/json; charset=utf-8",
            "Stripe-Signature": self.signature,
            "User-Agent": WEBHOOK_USER_AGENT,
        }


@dataclass(frozen=True)
class Delivery:
    event_id: str
    event_type: str
    url: str
    status: int | None
    error: str | None = None
    response_body: str = ""

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


class StripeError(Exception):
    """An error answered in Stripe's shape: {"error": {"type", "message", "code", "param", ...}}."""

    def __init__(self, status: int, message: str, *, type: str = "invalid_request_error",
                 code: str | None = None, param: str | None = None, **extra: Any):
        super().__init__(message)
        self.status = status
        self.body: dict[str, Any] = {"type": type, "message": message}
        if code:
            self.body["code"] = code
            self.body["doc_url"] = f"https://stripe.com/docs/error-codes/{code.replace('_', '-')}"
        if param:
            self.body["param"] = param
        self.body.update(extra)

    def to_json(self) -> dict[str, Any]:
        return {"error": self.body}


def _missing(kind: str, object_id: str, param: str = "id") -> StripeError:
    return StripeError(404, f"No such {kind}: '{object_id}'", code="resource_missing", param=param)


def _required(param: str) -> StripeError:
    return StripeError(400, f"Missing required param: {param}.", code="parameter_missing",
                       param=param)


# ---------------------------------------------------------------------------------------------
# Wire format


_KEY_PARTS = re.compile(r"\[([^\[\]]*)\]")


def parse_form(pairs: list[tuple[str, str]]) -> dict[str, Any]:
    """Turn `a[b][0][c]=v` pairs into nested dicts and lists, as Stripe's API server does."""
    root: dict[str, Any] = {}
    for raw_key, value in pairs:
        head, bracket, rest = raw_key.partition("[")
        parts = [head] + (_KEY_PARTS.findall(bracket + rest) if bracket else [])
        node = root
        for depth, part in enumerate(parts):
            name = part if part else str(len(node))  # `expand[]=a&expand[]=b` appends
            if depth == len(parts) - 1:
                node[name] = value
                break
            child = node.setdefault(name, {})
            if not isinstance(child, dict):
                raise StripeError(400, f"Invalid hash: {raw_key}", param=raw_key)
            node = child
    return _listify(root)


def _listify(node: Any, key: str = "") -> Any:
    if not isinstance(node, dict):
        return node
    node = {k: _listify(v, k) for k, v in node.items()}
    # metadata keys may legitimately be digits; everything else indexed 0..n is an array
    if node and key != "metadata" and all(k.isdigit() for k in node):
        return [node[k] for k in sorted(node, key=int)]
    return node


def _check_params(params: dict[str, Any], schema: dict[str, Any], prefix: str = "") -> None:
    """Reject unknown parameters the way Stripe does, so a typo in the app fails its tests."""
    for key, value in params.items():
        name = f"{prefix}[{key}]" if prefix else key
        if key not in schema:
            raise StripeError(400, f"Received unknown parameter: {name}", param=name)
        sub = schema[key]
        if isinstance(sub, list):
            if not isinstance(value, list):
                raise StripeError(400, f"Invalid array: {name}", param=name)
            for i, item in enumerate(value):
                if isinstance(item, dict):
                    _check_params(item, sub[0], f"{name}[{i}]")
        elif isinstance(sub, dict) and value != "":
            if not isinstance(value, dict):
                raise StripeError(400, f"Invalid object: {name}", param=name)
            _check_params(value, sub, name)


def _int(value: Any, param: str, *, minimum: int | None = None) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise StripeError(400, f"Invalid integer: {value}", param=param) from None
    if minimum is not None and number < minimum:
        raise StripeError(400, f"This value must be greater than or equal to {minimum}.",
                          param=param)
    return number


def _bool(value: Any, param: str) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).lower()
    if text in ("true", "1", "on", "recurring", "one_off"):  # off_session takes the last two
        return True
    if text in ("false", "0", "", "off"):
        return False
    raise StripeError(400, f"Invalid boolean: {value}", param=param)


def _url(value: Any, param: str) -> str:
    parts = urlsplit(str(value))
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise StripeError(400, "Not a valid URL", code="url_invalid", param=param)
    return str(value)


def _new_id(prefix: str, length: int = 24) -> str:
    alphabet = string.ascii_letters + string.digits
    return prefix + "".join(secrets.choice(alphabet) for _ in range(length))


def _copy(obj: Any) -> Any:
    return copy.deepcopy(obj)


_METADATA = ANY  # validated by _apply_metadata, which knows Stripe's limits
_ADDRESS = {"city": ANY, "country": ANY, "line1": ANY, "line2": ANY, "postal_code": ANY,
            "state": ANY}
_CUSTOMER_PARAMS = {
    "address": _ADDRESS, "balance": ANY, "description": ANY, "email": ANY, "expand": ANY,
    "invoice_prefix": ANY, "metadata": _METADATA, "name": ANY, "next_invoice_sequence": ANY,
    "payment_method": ANY, "phone": ANY, "preferred_locales": ANY, "shipping": ANY,
    "tax_exempt": ANY, "test_clock": ANY, "source": ANY, "default_source": ANY,
    "invoice_settings": {"custom_fields": ANY, "default_payment_method": ANY, "footer": ANY,
                         "rendering_options": ANY},
}
_LINE_ITEM = {
    "price": ANY, "quantity": ANY, "adjustable_quantity": ANY, "dynamic_tax_rates": ANY,
    "tax_rates": ANY, "metadata": _METADATA,
    "price_data": {
        "currency": ANY, "product": ANY, "unit_amount": ANY, "unit_amount_decimal": ANY,
        "tax_behavior": ANY, "recurring": ANY,
        "product_data": {"name": ANY, "description": ANY, "images": ANY,
                         "metadata": _METADATA, "tax_code": ANY, "unit_label": ANY},
    },
}
_SESSION_PARAMS = {
    "mode": ANY, "customer": ANY, "customer_email": ANY, "customer_creation": ANY,
    "line_items": [_LINE_ITEM], "metadata": _METADATA, "client_reference_id": ANY,
    "success_url": ANY, "cancel_url": ANY, "return_url": ANY, "ui_mode": ANY, "expand": ANY,
    "payment_method_types": ANY, "expires_at": ANY, "locale": ANY, "submit_type": ANY,
    "allow_promotion_codes": ANY, "automatic_tax": ANY, "billing_address_collection": ANY,
    "consent_collection": ANY, "currency": ANY, "custom_fields": ANY, "custom_text": ANY,
    "customer_update": ANY, "discounts": ANY, "invoice_creation": ANY,
    "payment_method_collection": ANY, "payment_method_configuration": ANY,
    "payment_method_options": ANY, "phone_number_collection": ANY,
    "saved_payment_method_options": ANY, "tax_id_collection": ANY, "after_expiration": ANY,
    "shipping_address_collection": ANY, "shipping_options": ANY, "redirect_on_completion": ANY,
    "excluded_payment_method_types": ANY, "adaptive_pricing": ANY, "wallet_options": ANY,
    "payment_intent_data": {
        "setup_future_usage": ANY, "metadata": _METADATA, "description": ANY,
        "receipt_email": ANY, "statement_descriptor": ANY, "statement_descriptor_suffix": ANY,
        "capture_method": ANY, "shipping": ANY, "application_fee_amount": ANY,
        "on_behalf_of": ANY, "transfer_data": ANY, "transfer_group": ANY,
    },
}
_PAYMENT_INTENT_PARAMS = {
    "amount": ANY, "currency": ANY, "customer": ANY, "payment_method": ANY, "off_session": ANY,
    "confirm": ANY, "metadata": _METADATA, "description": ANY, "payment_method_types": ANY,
    "automatic_payment_methods": ANY, "error_on_requires_action": ANY, "return_url": ANY,
    "receipt_email": ANY, "setup_future_usage": ANY, "statement_descriptor": ANY,
    "statement_descriptor_suffix": ANY, "capture_method": ANY, "confirmation_method": ANY,
    "mandate": ANY, "mandate_data": ANY, "payment_method_options": ANY, "shipping": ANY,
    "use_stripe_sdk": ANY, "expand": ANY, "payment_method_configuration": ANY,
    "radar_options": ANY, "confirmation_token": ANY,
}
_CONFIRM_PARAMS = {"payment_method": ANY, "off_session": ANY, "return_url": ANY, "expand": ANY,
                   "error_on_requires_action": ANY, "mandate_data": ANY, "receipt_email": ANY}
_REFUND_PARAMS = {"charge": ANY, "payment_intent": ANY, "amount": ANY, "reason": ANY,
                  "metadata": _METADATA, "expand": ANY, "refund_application_fee": ANY,
                  "reverse_transfer": ANY, "instructions_email": ANY}
_LIST_PARAMS = {"limit": ANY, "starting_after": ANY, "ending_before": ANY, "expand": ANY,
                "created": ANY}

# names Stripe uses in "No such ...: 'id'" messages
_KIND_NAMES = {
    "customer": "customer", "checkout.session": "checkout.session",
    "payment_intent": "payment_intent", "payment_method": "PaymentMethod", "charge": "charge",
    "refund": "refund", "dispute": "dispute", "event": "event",
}


@dataclass
class _Batch:
    """Events produced by one call, and the API request (if any) that caused them."""

    request_id: str | None = None
    idempotency_key: str | None = None
    events: list[dict[str, Any]] = field(default_factory=list)


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    # Stripe treats a 3xx answer to a webhook as a failed delivery; it never follows it.
    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None


_webhook_opener = urllib.request.build_opener(urllib.request.ProxyHandler({}), _NoRedirect)


# ---------------------------------------------------------------------------------------------
# The fake


class FakeStripe:
    """State, behaviour and control methods of the fake; `start()` serves it over HTTP."""

    def __init__(self, *, host: str = "127.0.0.1", port: int = 0,
                 webhook_url: str | None = None, webhook_secret: str = DEFAULT_WEBHOOK_SECRET,
                 auto_deliver: bool = True, api_version: str = API_VERSION,
                 delivery_timeout: float = 10.0):
        self.host = host
        self.port = port
        self.webhook_url = webhook_url
        self.webhook_secret = webhook_secret
        self.auto_deliver = auto_deliver
        self.api_version = api_version
        self.delivery_timeout = delivery_timeout
        self._lock = threading.RLock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._inflight = 0
        self._idle = threading.Condition()
        self.reset()

    # -- lifecycle --------------------------------------------------------------------------

    @property
    def api_base(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> FakeStripe:
        self._server = _Server((self.host, self.port), _Handler, self)
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        kwargs={"poll_interval": 0.05},
                                        name=f"fake-stripe:{self.port}", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self.wait_for_deliveries(timeout=self.delivery_timeout)
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = self._thread = None

    def __enter__(self) -> FakeStripe:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def reset(self) -> None:
        """Forget every object, event, idempotency key and knob; keeps the webhook settings."""
        with self._lock:
            self._objects: dict[str, dict[str, Any]] = {}
            self._line_items: dict[str, list[dict[str, Any]]] = {}
            self._intent_data: dict[str, dict[str, Any]] = {}
            self._idempotency: dict[tuple[str, str], tuple] = {}
            self._declines: dict[str, str] = {}
            self._events: list[dict[str, Any]] = []
            self._payloads: dict[str, bytes] = {}
            self._settled: set[str] = set()
            self._deliveries: list[Delivery] = []

    def configure_webhook(self, url: str | None, secret: str | None = None,
                          auto_deliver: bool = True) -> None:
        with self._lock:
            self.webhook_url = url
            if secret is not None:
                self.webhook_secret = secret
            self.auto_deliver = auto_deliver

    # -- reading state ----------------------------------------------------------------------

    def get(self, object_id: str) -> dict[str, Any]:
        """A copy of any stored object (customer, session, payment intent, charge, ...)."""
        with self._lock:
            if object_id not in self._objects:
                raise KeyError(object_id)
            return _copy(self._objects[object_id])

    def objects(self, kind: str) -> list[dict[str, Any]]:
        """Copies of every stored object whose `object` field is `kind`, oldest first."""
        with self._lock:
            return [_copy(o) for o in self._objects.values() if o["object"] == kind]

    @property
    def events(self) -> list[dict[str, Any]]:
        with self._lock:
            return _copy(self._events)

    def events_of_type(self, event_type: str) -> list[dict[str, Any]]:
        return [e for e in self.events if e["type"] == event_type]

    @property
    def deliveries(self) -> list[Delivery]:
        with self._lock:
            return list(self._deliveries)

    def pending_events(self) -> list[dict[str, Any]]:
        """Events neither delivered with a 2xx answer nor handed out by `take_pending`."""
        with self._lock:
            return [_copy(e) for e in self._events if e["id"] not in self._settled]

    # -- webhooks ---------------------------------------------------------------------------

    def sign_event(self, event: dict[str, Any] | str, *, timestamp: int | None = None,
                   secret: str | None = None) -> SignedEvent:
        """The event's stored body (identical on every delivery, as Stripe's) freshly signed."""
        event_id = event if isinstance(event, str) else event["id"]
        with self._lock:
            payload = self._payloads[event_id]
            secret = secret if secret is not None else self.webhook_secret
        return SignedEvent(json.loads(payload), payload, sign_payload(payload, secret, timestamp))

    def take_pending(self, *, timestamp: int | None = None) -> list[SignedEvent]:
        """Hand the pending events to the caller to deliver (or replay) itself."""
        with self._lock:
            pending = [e["id"] for e in self._events if e["id"] not in self._settled]
            self._settled.update(pending)
        return [self.sign_event(event_id, timestamp=timestamp) for event_id in pending]

    def deliver(self, event: dict[str, Any] | str, url: str | None = None) -> Delivery:
        """POST one event (again, if it was delivered before) to `url` or the webhook URL."""
        url = url or self.webhook_url
        if not url:
            raise RuntimeError("no webhook URL: pass url= or configure_webhook(url)")
        signed = self.sign_event(event)
        event_id, event_type = signed.event["id"], signed.event["type"]
        request = urllib.request.Request(url, data=signed.payload, headers=signed.headers,
                                         method="POST")
        try:
            with _webhook_opener.open(request, timeout=self.delivery_timeout) as response:
                result = Delivery(event_id, event_type, url, response.status,
                                  response_body=response.read(2000).decode(errors="replace"))
        except urllib.error.HTTPError as error:
            result = Delivery(event_id, event_type, url, error.code,
                              response_body=error.read(2000).decode(errors="replace"))
        except (urllib.error.URLError, OSError) as error:
            result = Delivery(event_id, event_type, url, None, error=str(error))
        with self._lock:
            self._deliveries.append(result)
            if result.ok:
                self._settled.add(event_id)
        return result

    def deliver_pending(self, url: str | None = None) -> list[Delivery]:
        """Try every pending event once, in the order they happened; failures stay pending."""
        return [self.deliver(event, url) for event in self.pending_events()]

    def wait_for_deliveries(self, timeout: float = 10.0) -> bool:
        """Wait until background deliveries (of API-triggered events) have finished."""
        with self._idle:
            return self._idle.wait_for(lambda: self._inflight == 0, timeout=timeout)

    def _deliver_now(self, batch: _Batch) -> None:
        if self.webhook_url and self.auto_deliver:
            for event in batch.events:
                self.deliver(event)

    def _deliver_in_background(self, batch: _Batch) -> None:
        if not (batch.events and self.webhook_url and self.auto_deliver):
            return

        def run() -> None:
            try:
                self._deliver_now(batch)
            finally:
                with self._idle:
                    self._inflight -= 1
                    self._idle.notify_all()

        with self._idle:
            self._inflight += 1
        threading.Thread(target=run, name="fake-stripe-webhook", daemon=True).start()

    def _emit(self, batch: _Batch, event_type: str, obj: dict[str, Any],
              previous: dict[str, Any] | None = None) -> None:
        event = {
            "id": _new_id("evt_"),
            "object": "event",
            "api_version": self.api_version,
            "created": int(time.time()),
            "data": {"object": _copy(obj)},
            "livemode": False,
            "pending_webhooks": 1 if self.webhook_url else 0,
            "request": {"id": batch.request_id, "idempotency_key": batch.idempotency_key},
            "type": event_type,
        }
        if previous:
            event["data"]["previous_attributes"] = previous
        self._events.append(event)
        self._objects[event["id"]] = event
        self._payloads[event["id"]] = json.dumps(event, indent=2).encode()
        batch.events.append(event)

    # -- control methods (what a customer, bank or card network would do) -------------------

    def pay_checkout_session(self, session_id: str, *, async_payment: bool = False,
                             email: str | None = None, name: str | None = None) -> dict:
        """Complete an open session as the customer would on the hosted page.

        A card payment settles at once (`payment_status` "paid"). `async_payment=True` pays by
        bank debit: the session completes "unpaid" and settles later through
        `settle_async_payment`.
        """
        batch = _Batch()
        with self._lock:
            session = self._fetch("checkout.session", session_id)
            if session["status"] != "open":
                raise StripeError(400, f"This Checkout Session is {session['status']}, not open.",
                                  code="checkout_session_not_open")
            intent_data = self._intent_data[session_id]
            future_usage = intent_data.get("setup_future_usage")
            customer = self._objects.get(session["customer"] or "")
            if customer is None and (session["customer_creation"] == "always" or future_usage):
                customer = self._new_customer({"email": email or session["customer_email"],
                                               "name": name})
            email = email or (customer or {}).get("email") or session["customer_email"]
            email = email or "buyer@example.com"
            name = name or (customer or {}).get("name") or "Test Buyer"
            method = self._new_payment_method(
                customer["id"] if customer and future_usage else None, email=email, name=name,
                kind="us_bank_account" if async_payment else "card")
            intent = self._new_payment_intent(
                amount=session["amount_total"], currency=session["currency"],
                customer=customer["id"] if customer else None,
                metadata=_copy(intent_data.get("metadata") or {}),
                description=intent_data.get("description"), setup_future_usage=future_usage,
                payment_method_types=[method["type"]])
            intent["payment_method"] = method["id"]
            intent["receipt_email"] = intent_data.get("receipt_email")
            charge = self._new_charge(intent, method,
                                      "pending" if async_payment else "succeeded")
            intent["latest_charge"] = charge["id"]
            session.update(
                status="complete",
                payment_status="unpaid" if async_payment else "paid",
                payment_intent=intent["id"],
                customer=customer["id"] if customer else None,
                customer_details={"address": None, "email": email, "name": name, "phone": None,
                                  "tax_exempt": "none", "tax_ids": []},
            )
            if async_payment:
                intent.update(status="processing")
            else:
                intent.update(status="succeeded", amount_received=intent["amount"])
                self._emit(batch, "payment_intent.succeeded", intent)
            self._emit(batch, "checkout.session.completed", session)
            result = _copy(session)
        self._deliver_now(batch)
        return result

    def settle_async_payment(self, session_id: str, *, succeeded: bool = True,
                             failure_code: str = "insufficient_funds") -> dict:
        """Let the bank debit of a session paid with `async_payment=True` clear or bounce."""
        batch = _Batch()
        with self._lock:
            session = self._fetch("checkout.session", session_id)
            intent = self._objects.get(session["payment_intent"] or "")
            if intent is None or intent["status"] != "processing":
                raise StripeError(400, f"Checkout Session {session_id} has no payment awaiting "
                                       "settlement.", code="payment_intent_unexpected_state")
            charge = self._objects[intent["latest_charge"]]
            if succeeded:
                charge.update(status="succeeded", paid=True, captured=True,
                              amount_captured=charge["amount"],
                              balance_transaction=_new_id("txn_"))
                intent.update(status="succeeded", amount_received=intent["amount"])
                session["payment_status"] = "paid"
                self._emit(batch, "payment_intent.succeeded", intent)
                self._emit(batch, "checkout.session.async_payment_succeeded", session)
            else:
                message = "The customer's account has insufficient funds to cover this payment."
                charge.update(status="failed", failure_code=failure_code,
                              failure_message=message)
                intent.update(status="requires_payment_method", last_payment_error={
                    "type": "invalid_request_error",
                    "code": failure_code, "message": message, "charge": charge["id"],
                    "payment_method": _copy(self._objects[intent["payment_method"]])})
                self._emit(batch, "payment_intent.payment_failed", intent)
                self._emit(batch, "checkout.session.async_payment_failed", session)
            result = _copy(session)
        self._deliver_now(batch)
        return result

    def refund_charge(self, charge_id: str, amount: int | None = None,
                      reason: str | None = None) -> dict:
        """Refund from the Dashboard: full by default, or `amount` (in cents) of it."""
        batch = _Batch()
        with self._lock:
            refund = self._refund(self._fetch("charge", charge_id), amount, reason, {}, batch)
        self._deliver_now(batch)
        return refund

    def open_dispute(self, charge_id: str, amount: int | None = None,
                     reason: str = "fraudulent") -> dict:
        """The cardholder disputes the charge (for its whole amount unless `amount`)."""
        batch = _Batch()
        with self._lock:
            charge = self._fetch("charge", charge_id)
            if charge["status"] != "succeeded":
                raise StripeError(400, f"Charge {charge_id} has not succeeded.")
            if any(d["charge"] == charge_id and d["status"] not in ("won", "lost")
                   for d in self._of_kind("dispute")):
                raise StripeError(400, f"Charge {charge_id} already has an open dispute.")
            now = int(time.time())
            dispute = {
                "id": _new_id("dp_"), "object": "dispute",
                "amount": amount if amount is not None else charge["amount"],
                "balance_transactions": [], "charge": charge_id, "created": now,
                "currency": charge["currency"], "evidence": {},
                "evidence_details": {"due_by": now + 7 * 86400, "has_evidence": False,
                                     "past_due": False, "submission_count": 0},
                "is_charge_refundable": False, "livemode": False, "metadata": {},
                "payment_intent": charge["payment_intent"], "reason": reason,
                "status": "needs_response",
            }
            self._objects[dispute["id"]] = dispute
            charge["disputed"] = True
            self._emit(batch, "charge.dispute.created", dispute)
            result = _copy(dispute)
        self._deliver_now(batch)
        return result

    def close_dispute(self, dispute_id: str, status: str = "lost") -> dict:
        """The card network decides: "won" (funds return to you) or "lost"."""
        if status not in ("won", "lost"):
            raise ValueError("status must be 'won' or 'lost'")
        batch = _Batch()
        with self._lock:
            dispute = self._fetch("dispute", dispute_id)
            if dispute["status"] in ("won", "lost"):
                raise StripeError(400, f"Dispute {dispute_id} is already closed.")
            dispute["status"] = status
            self._emit(batch, "charge.dispute.closed", dispute)
            result = _copy(dispute)
        self._deliver_now(batch)
        return result

    def decline_off_session(self, customer_id: str,
                            decline_code: str = "generic_decline") -> None:
        """From now on, off-session confirmations for this customer fail with a card error.

        `decline_code` "authentication_required" answers that error code (the bank wants 3DS);
        any other, e.g. "insufficient_funds", answers code "card_declined" with it.
        """
        with self._lock:
            self._declines[customer_id] = decline_code

    def clear_declines(self, customer_id: str | None = None) -> None:
        with self._lock:
            if customer_id is None:
                self._declines.clear()
            else:
                self._declines.pop(customer_id, None)

    def add_payment_method(self, customer_id: str, *, last4: str = "4242",
                           brand: str = "visa") -> dict:
        """Save a card on a customer without going through Checkout."""
        with self._lock:
            customer = self._fetch("customer", customer_id)
            method = self._new_payment_method(customer_id, email=customer["email"],
                                              name=customer["name"], kind="card")
            method["card"].update(last4=last4, brand=brand, display_brand=brand)
            return _copy(method)

    # -- object store -----------------------------------------------------------------------

    def _of_kind(self, kind: str) -> list[dict[str, Any]]:
        return [o for o in self._objects.values() if o["object"] == kind]

    def _fetch(self, kind: str, object_id: str, param: str = "id") -> dict[str, Any]:
        obj = self._objects.get(object_id)
        if obj is None or obj["object"] != kind:
            raise _missing(_KIND_NAMES[kind], object_id, param)
        return obj

    def _apply_metadata(self, target: dict[str, str], value: Any, param: str = "metadata"):
        if value == "":  # `metadata=""` unsets every key
            target.clear()
            return
        if not isinstance(value, dict):
            raise StripeError(400, f"Invalid object: {param}", param=param)
        for key, item in value.items():
            if len(key) > 40:
                raise StripeError(400, "Metadata keys can have up to 40 characters.",
                                  param=f"{param}[{key}]")
            if item == "":
                target.pop(key, None)
            elif len(str(item)) > 500:
                raise StripeError(400, "Metadata values can have up to 500 characters.",
                                  param=f"{param}[{key}]")
            else:
                target[key] = str(item)
        if len(target) > 50:
            raise StripeError(400, "Metadata can have up to 50 keys.", param=param)

    def _new_customer(self, params: dict[str, Any]) -> dict[str, Any]:
        customer = {
            "id": _new_id("cus_", 14), "object": "customer", "address": None, "balance": 0,
            "created": int(time.time()), "currency": None, "default_source": None,
            "delinquent": False, "description": None, "discount": None, "email": None,
            "invoice_prefix": secrets.token_hex(4).upper(),
            "invoice_settings": {"custom_fields": None, "default_payment_method": None,
                                 "footer": None, "rendering_options": None},
            "livemode": False, "metadata": {}, "name": None, "next_invoice_sequence": 1,
            "phone": None, "preferred_locales": [], "shipping": None, "tax_exempt": "none",
            "test_clock": None,
        }
        method = None
        if params.get("payment_method"):
            method = self._fetch("payment_method", params["payment_method"], "payment_method")
            if method["customer"]:
                raise StripeError(400, "This PaymentMethod is already attached to a customer.",
                                  param="payment_method")
            method["customer"] = customer["id"]
        try:
            self._update_customer_fields(customer, params)
        except StripeError:
            if method:
                method["customer"] = None
            raise
        self._objects[customer["id"]] = customer
        return customer

    def _update_customer_fields(self, customer: dict[str, Any], params: dict[str, Any]) -> None:
        for key in ("email", "name", "description", "phone"):
            if key in params:
                customer[key] = params[key] or None
        if "balance" in params:
            customer["balance"] = _int(params["balance"], "balance")
        if "metadata" in params:
            self._apply_metadata(customer["metadata"], params["metadata"])
        settings = params.get("invoice_settings") or {}
        if "default_payment_method" in settings:
            method_id = settings["default_payment_method"] or None
            param = "invoice_settings[default_payment_method]"
            if method_id:
                method = self._fetch("payment_method", method_id, param)
                if method["customer"] != customer["id"]:
                    raise StripeError(
                        400, f"The customer does not have a payment method with the ID "
                             f"{method_id}. The payment method must be attached to the customer.",
                        code="resource_missing", param=param)
            customer["invoice_settings"]["default_payment_method"] = method_id

    def _new_payment_method(self, customer_id: str | None, *, email: str | None,
                            name: str | None, kind: str) -> dict[str, Any]:
        method = {
            "id": _new_id("pm_"), "object": "payment_method", "allow_redisplay": "unspecified",
            "billing_details": {"address": dict.fromkeys(_ADDRESS), "email": email,
                                "name": name, "phone": None},
            "created": int(time.time()), "customer": customer_id, "livemode": False,
            "metadata": {}, "type": kind,
        }
        if kind == "card":
            method["card"] = {
                "brand": "visa", "checks": {"address_line1_check": None,
                                            "address_postal_code_check": None,
                                            "cvc_check": "pass"},
                "country": "US", "display_brand": "visa", "exp_month": 12,
                "exp_year": time.gmtime().tm_year + 3, "fingerprint": secrets.token_hex(8),
                "funding": "credit", "last4": "4242",
                "networks": {"available": ["visa"], "preferred": None}, "wallet": None,
            }
        else:
            method[kind] = {"account_holder_type": "individual", "account_type": "checking",
                            "bank_name": "STRIPE TEST BANK", "fingerprint": secrets.token_hex(8),
                            "last4": "6789", "routing_number": "110000000"}
        self._objects[method["id"]] = method
        return method

    def _new_payment_intent(self, *, amount: int, currency: str, customer: str | None,
                            metadata: dict[str, str], description: str | None = None,
                            setup_future_usage: str | None = None,
                            payment_method_types: list[str] | None = None) -> dict[str, Any]:
        intent_id = _new_id("pi_")
        intent = {
            "id": intent_id, "object": "payment_intent", "amount": amount,
            "amount_capturable": 0, "amount_received": 0, "canceled_at": None,
            "cancellation_reason": None, "capture_method": "automatic_async",
            "client_secret": f"{intent_id}_secret_{_new_id('', 25)}",
            "confirmation_method": "automatic", "created": int(time.time()),
            "currency": currency, "customer": customer, "description": description,
            "last_payment_error": None, "latest_charge": None, "livemode": False,
            "metadata": metadata, "next_action": None, "payment_method": None,
            "payment_method_types": payment_method_types or ["card"], "receipt_email": None,
            "setup_future_usage": setup_future_usage, "status": "requires_payment_method",
        }
        self._objects[intent_id] = intent
        return intent

    def _new_charge(self, intent: dict[str, Any], method: dict[str, Any],
                    status: str) -> dict[str, Any]:
        # bank debits are "py_" payments in Stripe; cards are "ch_" charges
        charge_id = _new_id("ch_" if method["type"] == "card" else "py_")
        succeeded = status == "succeeded"
        charge = {
            "id": charge_id, "object": "charge", "amount": intent["amount"],
            "amount_captured": intent["amount"] if succeeded else 0, "amount_refunded": 0,
            "balance_transaction": _new_id("txn_") if succeeded else None,
            "billing_details": _copy(method["billing_details"]), "captured": succeeded,
            "created": int(time.time()), "currency": intent["currency"],
            "customer": intent["customer"], "description": intent["description"],
            "disputed": False, "failure_code": None, "failure_message": None,
            "livemode": False, "metadata": _copy(intent["metadata"]),
            "outcome": {"network_status": "approved_by_network", "reason": None,
                        "risk_level": "normal", "seller_message": "Payment complete.",
                        "type": "authorized"},
            "paid": succeeded, "payment_intent": intent["id"], "payment_method": method["id"],
            "payment_method_details": {"type": method["type"],
                                       method["type"]: _copy(method[method["type"]])},
            "receipt_email": intent["receipt_email"], "receipt_number": None,
            "receipt_url": f"{self.api_base}/receipts/{charge_id}", "refunded": False,
            "status": status,
        }
        self._objects[charge_id] = charge
        return charge

    def _confirm(self, intent: dict[str, Any], off_session: bool, batch: _Batch) -> None:
        if not intent["payment_method"]:
            raise StripeError(
                400, "You cannot confirm this PaymentIntent because it's missing a payment "
                     "method. Update the PaymentIntent with a payment method and then confirm "
                     "it again.", code="payment_intent_unexpected_state")
        if intent["status"] not in ("requires_payment_method", "requires_confirmation"):
            raise StripeError(
                400, f"This PaymentIntent's status is {intent['status']}, so it cannot be "
                     "confirmed.", code="payment_intent_unexpected_state")
        method = self._objects[intent["payment_method"]]
        decline = self._declines.get(intent["customer"] or "") if off_session else None
        charge = self._new_charge(intent, method, "failed" if decline else "succeeded")
        intent["latest_charge"] = charge["id"]
        if decline:
            code = "authentication_required" if decline == "authentication_required" \
                else "card_declined"
            message = ("Your card was declined. This transaction requires authentication."
                       if code == "authentication_required" else "Your card was declined.")
            charge.update(failure_code=code, failure_message=message,
                          outcome={"network_status": "declined_by_network",
                                   "reason": decline, "risk_level": "normal",
                                   "seller_message": "The bank declined the payment.",
                                   "type": "issuer_declined"})
            error = {"type": "card_error", "code": code, "decline_code": decline,
                     "message": message, "charge": charge["id"], "payment_method": _copy(method)}
            intent.update(status="requires_payment_method", last_payment_error=error)
            self._emit(batch, "payment_intent.payment_failed", intent)
            raise StripeError(402, message, type="card_error", code=code,
                              decline_code=decline, charge=charge["id"],
                              payment_intent=_copy(intent), payment_method=_copy(method))
        intent.update(status="succeeded", amount_received=intent["amount"],
                      last_payment_error=None)
        if intent["setup_future_usage"] and intent["customer"] and not method["customer"]:
            method["customer"] = intent["customer"]
        self._emit(batch, "payment_intent.succeeded", intent)

    def _refund(self, charge: dict[str, Any], amount: int | None, reason: str | None,
                metadata: dict[str, str], batch: _Batch) -> dict[str, Any]:
        if charge["status"] != "succeeded":
            raise StripeError(400, f"Charge {charge['id']} has not succeeded; it cannot be "
                                   "refunded.", code="charge_not_refundable")
        if any(d["charge"] == charge["id"] and d["status"] not in ("won", "lost")
               for d in self._of_kind("dispute")):
            raise StripeError(400, f"Charge {charge['id']} has been charged back; cannot issue "
                                   "a refund.", code="charge_disputed")
        remaining = charge["amount"] - charge["amount_refunded"]
        if remaining == 0:
            raise StripeError(400, f"Charge {charge['id']} has already been refunded.",
                              code="charge_already_refunded")
        amount = remaining if amount is None else amount
        if amount > remaining:
            raise StripeError(400, f"Refund amount ({amount}) is greater than unrefunded amount "
                                   f"on charge ({remaining})", code="amount_too_large",
                              param="amount")
        refund = {
            "id": _new_id("re_"), "object": "refund", "amount": amount,
            "balance_transaction": _new_id("txn_"), "charge": charge["id"],
            "created": int(time.time()), "currency": charge["currency"], "metadata": metadata,
            "payment_intent": charge["payment_intent"], "reason": reason,
            "receipt_number": None, "status": "succeeded",
        }
        self._objects[refund["id"]] = refund
        previous = {"amount_refunded": charge["amount_refunded"], "refunded": charge["refunded"]}
        charge["amount_refunded"] += amount
        charge["refunded"] = charge["amount_refunded"] == charge["amount"]
        self._emit(batch, "charge.refunded", charge, previous)
        return _copy(refund)

    # -- API endpoints: (self, params, batch, *path ids) -> response dict ---------------------

    def _api_create_customer(self, params, batch):
        _check_params(params, _CUSTOMER_PARAMS)
        return self._new_customer(params)

    def _api_update_customer(self, params, batch, customer_id):
        _check_params(params, _CUSTOMER_PARAMS)
        customer = self._fetch("customer", customer_id)
        updated = _copy(customer)  # Stripe applies an update entirely or not at all
        self._update_customer_fields(updated, params)
        customer.update(updated)
        return customer

    def _api_customer_payment_methods(self, params, batch, customer_id):
        self._fetch("customer", customer_id)
        return self._api_list_payment_methods({**params, "customer": customer_id}, batch,
                                              url=f"/v1/customers/{customer_id}/payment_methods")

    def _api_create_checkout_session(self, params, batch):
        _check_params(params, _SESSION_PARAMS)
        mode = params.get("mode") or ""
        if not mode:
            raise _required("mode")
        if mode != "payment":
            raise StripeError(400, f"The fake implements mode=payment only, not {mode}.",
                              param="mode")
        if params.get("customer") and params.get("customer_email"):
            raise StripeError(400, "You may only specify one of these parameters: customer, "
                                   "customer_email.", param="customer_email")
        if params.get("customer") and params.get("customer_creation"):
            raise StripeError(400, "You may only specify one of these parameters: customer, "
                                   "customer_creation.", param="customer_creation")
        if params.get("customer"):
            self._fetch("customer", params["customer"], "customer")
        if params.get("customer_creation", "if_required") not in ("always", "if_required"):
            raise StripeError(400, "Invalid customer_creation", param="customer_creation")
        intent_data = params.get("payment_intent_data") or {}
        if intent_data.get("setup_future_usage", "off_session") not in ("off_session",
                                                                          "on_session"):
            raise StripeError(400, "Invalid setup_future_usage",
                              param="payment_intent_data[setup_future_usage]")
        for key in ("success_url", "cancel_url"):
            if params.get(key):
                _url(params[key], key)
        if len(params.get("client_reference_id") or "") > 200:
            raise StripeError(400, "client_reference_id can have up to 200 characters.",
                              param="client_reference_id")
        session_id = _new_id("cs_test_a1", 56)
        line_items, currency = self._build_line_items(params.get("line_items"))
        total = sum(item["amount_total"] for item in line_items)
        if currency == "usd" and total < 50:
            raise StripeError(400, "The Checkout Session's total amount due must add up to at "
                                   "least $0.50 usd", code="amount_too_small")
        now = int(time.time())
        customer_creation = None if params.get("customer") else \
            params.get("customer_creation", "if_required")
        session = {
            "id": session_id, "object": "checkout.session", "amount_subtotal": total,
            "amount_total": total, "cancel_url": params.get("cancel_url"),
            "client_reference_id": params.get("client_reference_id"), "created": now,
            "currency": currency, "customer": params.get("customer"),
            "customer_creation": customer_creation,
            "customer_details": None, "customer_email": params.get("customer_email"),
            "expires_at": _int(params.get("expires_at", now + 86400), "expires_at"),
            "invoice": None, "livemode": False, "locale": params.get("locale"), "metadata": {},
            "mode": "payment", "payment_intent": None, "payment_link": None,
            "payment_method_collection": "if_required",
            "payment_method_types": params.get("payment_method_types") or ["card"],
            "payment_status": "unpaid", "setup_intent": None, "status": "open",
            "submit_type": params.get("submit_type"), "subscription": None,
            "success_url": params.get("success_url"),
            "total_details": {"amount_discount": 0, "amount_shipping": 0, "amount_tax": 0},
            "ui_mode": params.get("ui_mode", "hosted"), "url": f"{self.api_base}/pay/{session_id}",
        }
        self._apply_metadata(session["metadata"], params.get("metadata", {}))
        intent_metadata: dict[str, str] = {}
        self._apply_metadata(intent_metadata, intent_data.get("metadata", {}),
                             "payment_intent_data[metadata]")
        self._objects[session_id] = session
        self._line_items[session_id] = line_items
        self._intent_data[session_id] = {**intent_data, "metadata": intent_metadata}
        return session

    def _build_line_items(self, raw: Any) -> tuple[list[dict], str]:
        if not raw:
            raise _required("line_items")
        items, currencies = [], set()
        for i, entry in enumerate(raw):
            param = f"line_items[{i}]"
            if not isinstance(entry, dict):
                raise StripeError(400, f"Invalid object: {param}", param=param)
            if entry.get("price"):
                raise _missing("price", entry["price"], f"{param}[price]")
            price_data = entry.get("price_data")
            if not price_data:
                raise StripeError(400, f"You must specify either `price` or `price_data` in "
                                       f"{param}.", param=param)
            if "quantity" not in entry:
                raise _required(f"{param}[quantity]")
            quantity = _int(entry["quantity"], f"{param}[quantity]", minimum=1)
            currency = str(price_data.get("currency") or "").lower()
            if not re.fullmatch(r"[a-z]{3}", currency):
                raise _required(f"{param}[price_data][currency]")
            product_name = (price_data.get("product_data") or {}).get("name")
            if not product_name and not price_data.get("product"):
                raise _required(f"{param}[price_data][product_data][name]")
            unit_amount = self._unit_amount(price_data, f"{param}[price_data]")
            currencies.add(currency)
            product_id = price_data.get("product") or _new_id("prod_", 14)
            items.append({
                "id": _new_id("li_"), "object": "item",
                "amount_discount": 0, "amount_subtotal": round(unit_amount * quantity),
                "amount_tax": 0, "amount_total": round(unit_amount * quantity),
                "currency": currency, "description": product_name,
                "price": {
                    "id": _new_id("price_"), "object": "price", "active": False,
                    "billing_scheme": "per_unit", "created": int(time.time()),
                    "currency": currency, "livemode": False, "metadata": {},
                    "product": product_id, "type": "one_time",
                    "unit_amount": int(unit_amount) if unit_amount == int(unit_amount) else None,
                    "unit_amount_decimal": str(unit_amount),
                },
                "quantity": quantity,
            })
        if len(currencies) > 1:
            raise StripeError(400, "All line_items must use the same currency.",
                              param="line_items")
        return items, currencies.pop()

    @staticmethod
    def _unit_amount(price_data: dict[str, Any], param: str) -> Decimal:
        if "unit_amount" in price_data:
            return Decimal(_int(price_data["unit_amount"], f"{param}[unit_amount]", minimum=0))
        if "unit_amount_decimal" in price_data:
            try:
                return Decimal(str(price_data["unit_amount_decimal"]))
            except InvalidOperation:
                raise StripeError(400, "Invalid decimal", param=f"{param}[unit_amount_decimal]") \
                    from None
        raise _required(f"{param}[unit_amount]")

    def _api_list_checkout_sessions(self, params, batch):
        _check_params(params, {**_LIST_PARAMS, "payment_intent": ANY, "customer": ANY,
                               "status": ANY, "payment_link": ANY, "subscription": ANY,
                               "customer_details": ANY})
        found = self._of_kind("checkout.session")
        for key in ("payment_intent", "customer", "status"):
            if params.get(key):
                found = [s for s in found if s[key] == params[key]]
        return self._list("/v1/checkout/sessions", found, params)

    def _api_session_line_items(self, params, batch, session_id):
        self._fetch("checkout.session", session_id)
        return self._list(f"/v1/checkout/sessions/{session_id}/line_items",
                          list(reversed(self._line_items[session_id])), params)

    def _api_create_payment_intent(self, params, batch):
        _check_params(params, _PAYMENT_INTENT_PARAMS)
        if "amount" not in params:
            raise _required("amount")
        amount = _int(params["amount"], "amount", minimum=1)
        currency = str(params.get("currency") or "").lower()
        if not currency:
            raise _required("currency")
        if currency == "usd" and amount < 50:
            raise StripeError(400, "Amount must be at least $0.50 usd", code="amount_too_small",
                              param="amount")
        customer_id = params.get("customer") or None
        if customer_id:
            self._fetch("customer", customer_id, "customer")
        confirm = _bool(params.get("confirm", False), "confirm")
        off_session = _bool(params.get("off_session", False), "off_session")
        if off_session and not confirm:
            raise StripeError(400, "off_session can only be used when confirm=true.",
                              param="off_session")
        metadata: dict[str, str] = {}
        self._apply_metadata(metadata, params.get("metadata", {}))
        method_id = params.get("payment_method") or None
        if method_id:
            self._check_method_owner(method_id, customer_id)
        intent = self._new_payment_intent(
            amount=amount, currency=currency, customer=customer_id, metadata=metadata,
            description=params.get("description"),
            setup_future_usage=params.get("setup_future_usage") or None,
            payment_method_types=params.get("payment_method_types"))
        intent["receipt_email"] = params.get("receipt_email")
        if method_id:
            intent.update(payment_method=method_id, status="requires_confirmation")
        if confirm:
            self._confirm(intent, off_session, batch)
        return intent

    def _check_method_owner(self, method_id: str, customer_id: str | None) -> None:
        owner = self._fetch("payment_method", method_id, "payment_method")["customer"]
        if owner and not customer_id:
            raise StripeError(400, f"The provided PaymentMethod {method_id} is attached to a "
                                   "Customer; pass that Customer with it.",
                              param="payment_method")
        if owner and owner != customer_id:
            raise StripeError(400, f"The provided PaymentMethod {method_id} belongs to another "
                                   "Customer.", param="payment_method")

    def _api_confirm_payment_intent(self, params, batch, intent_id):
        _check_params(params, _CONFIRM_PARAMS)
        intent = self._fetch("payment_intent", intent_id)
        if params.get("payment_method"):
            self._check_method_owner(params["payment_method"], intent["customer"])
            intent["payment_method"] = params["payment_method"]
        self._confirm(intent, _bool(params.get("off_session", False), "off_session"), batch)
        return intent

    def _api_list_payment_methods(self, params, batch, url="/v1/payment_methods"):
        _check_params(params, {**_LIST_PARAMS, "customer": ANY, "type": ANY,
                               "allow_redisplay": ANY})
        customer_id = params.get("customer")
        if not customer_id:
            raise _required("customer")
        self._fetch("customer", customer_id, "customer")
        found = [m for m in self._of_kind("payment_method") if m["customer"] == customer_id]
        if params.get("type"):
            found = [m for m in found if m["type"] == params["type"]]
        return self._list(url, found, params)

    def _api_create_refund(self, params, batch):
        _check_params(params, _REFUND_PARAMS)
        charge_id, intent_id = params.get("charge"), params.get("payment_intent")
        if charge_id and intent_id:
            raise StripeError(400, "You may only specify one of these parameters: charge, "
                                   "payment_intent.", param="payment_intent")
        if intent_id:
            intent = self._fetch("payment_intent", intent_id, "payment_intent")
            if not intent["latest_charge"]:
                raise StripeError(400, f"This PaymentIntent ({intent_id}) does not have a "
                                       "successful charge to refund.",
                                  code="charge_not_refundable", param="payment_intent")
            charge_id = intent["latest_charge"]
        elif not charge_id:
            raise StripeError(400, "One of the following params should be provided for this "
                                   "request: payment_intent or charge.")
        charge = self._fetch("charge", charge_id, "charge")
        amount = _int(params["amount"], "amount", minimum=1) if "amount" in params else None
        metadata: dict[str, str] = {}
        self._apply_metadata(metadata, params.get("metadata", {}))
        return self._refund(charge, amount, params.get("reason"), metadata, batch)

    def _api_list_charges(self, params, batch):
        _check_params(params, {**_LIST_PARAMS, "customer": ANY, "payment_intent": ANY})
        found = self._of_kind("charge")
        for key in ("customer", "payment_intent"):
            if params.get(key):
                found = [c for c in found if c[key] == params[key]]
        return self._list("/v1/charges", found, params)

    def _api_list_events(self, params, batch):
        _check_params(params, {**_LIST_PARAMS, "type": ANY, "types": ANY,
                               "delivery_success": ANY})
        found = list(self._events)
        if params.get("type"):
            pattern = re.escape(params["type"]).replace(r"\*", ".*")
            found = [e for e in found if re.fullmatch(pattern, e["type"])]
        if params.get("types"):
            found = [e for e in found if e["type"] in params["types"]]
        return self._list("/v1/events", found, params)

    def _retriever(kind: str):  # runs while the class body is built, to fill _ROUTES
        def retrieve(self, params, batch, object_id):
            _check_params(params, {"expand": ANY})
            return self._fetch(kind, object_id)

        return retrieve

    def _list(self, url: str, found: list[dict[str, Any]], params: dict[str, Any]) -> dict:
        limit = _int(params.get("limit", 10), "limit", minimum=1)
        newest_first = list(reversed(found))
        if params.get("starting_after"):
            ids = [o["id"] for o in newest_first]
            after = params["starting_after"]
            newest_first = newest_first[ids.index(after) + 1:] if after in ids else []
        page = newest_first[:min(limit, 100)]
        return {"object": "list", "data": page, "has_more": len(newest_first) > len(page),
                "url": url}

    _ROUTES: list[tuple[str, str, Any]] = [
        ("POST", r"/v1/customers", _api_create_customer),
        ("GET", r"/v1/customers/([^/]+)", _retriever("customer")),
        ("POST", r"/v1/customers/([^/]+)", _api_update_customer),
        ("GET", r"/v1/customers/([^/]+)/payment_methods", _api_customer_payment_methods),
        ("POST", r"/v1/checkout/sessions", _api_create_checkout_session),
        ("GET", r"/v1/checkout/sessions", _api_list_checkout_sessions),
        ("GET", r"/v1/checkout/sessions/([^/]+)", _retriever("checkout.session")),
        ("GET", r"/v1/checkout/sessions/([^/]+)/line_items", _api_session_line_items),
        ("POST", r"/v1/payment_intents", _api_create_payment_intent),
        ("GET", r"/v1/payment_intents/([^/]+)", _retriever("payment_intent")),
        ("POST", r"/v1/payment_intents/([^/]+)/confirm", _api_confirm_payment_intent),
        ("GET", r"/v1/payment_methods", _api_list_payment_methods),
        ("GET", r"/v1/payment_methods/([^/]+)", _retriever("payment_method")),
        ("POST", r"/v1/refunds", _api_create_refund),
        ("GET", r"/v1/refunds/([^/]+)", _retriever("refund")),
        ("GET", r"/v1/charges", _api_list_charges),
        ("GET", r"/v1/charges/([^/]+)", _retriever("charge")),
        ("GET", r"/v1/disputes/([^/]+)", _retriever("dispute")),
        ("GET", r"/v1/events", _api_list_events),
        ("GET", r"/v1/events/([^/]+)", _retriever("event")),
    ]
    del _retriever

    # -- API dispatch -----------------------------------------------------------------------

    def handle_api(self, method: str, path: str, params: dict[str, Any], api_key: str,
                   idempotency_key: str | None) -> tuple[int, dict[str, Any], dict[str, str]]:
        """Route one authenticated request; returns (status, JSON body, extra headers)."""
        request_id = _new_id("req_", 14)
        headers = {"Request-Id": request_id}
        if method != "POST":
            idempotency_key = None  # Stripe ignores the header on GET and DELETE
        if idempotency_key:
            headers["Idempotency-Key"] = idempotency_key
        handler, match = next(((handler, match) for verb, pattern, handler in self._ROUTES
                               if verb == method and (match := re.fullmatch(pattern, path))),
                              (None, None))
        if handler is None:
            error = StripeError(404, f"Unrecognized request URL ({method}: {path}). Please see "
                                     "https://stripe.com/docs or we can help at "
                                     "https://support.stripe.com/.")
            return error.status, error.to_json(), headers
        batch = _Batch(request_id, idempotency_key)
        with self._lock:  # one request at a time: simple, and it makes idempotency exact
            slot = (api_key, idempotency_key) if idempotency_key else None
            if slot in self._idempotency:
                return self._replay(slot, method, path, params, headers)
            try:
                if idempotency_key and len(idempotency_key) > 255:
                    raise StripeError(400, "Idempotency keys can be up to 255 characters long.",
                                      type="idempotency_error")
                body = self._expand(_copy(handler(self, params, batch, *match.groups())),
                                    params.get("expand"))
                status = 200
            except StripeError as error:
                status, body = error.status, error.to_json()
            # Stripe saves a result once the endpoint has started executing (a card decline
            # included) but not when the request failed validation.
            if slot and (status < 400 or status == 402):
                self._idempotency[slot] = (method, path, params, status, body)
        self._deliver_in_background(batch)
        return status, body, headers

    def _replay(self, slot, method, path, params, headers):
        first_method, first_path, first_params, status, body = self._idempotency[slot]
        key = slot[1]
        if (first_method, first_path) != (method, path):
            error = StripeError(
                400, f"Keys for idempotent requests can only be used for the same endpoint they "
                     f"were first used for ('{first_method} {first_path}' vs '{method} {path}'). "
                     f"Try using a key other than '{key}' if you meant to execute a different "
                     "request.", type="idempotency_error")
            return 400, error.to_json(), headers
        if first_params != params:
            error = StripeError(
                400, "Keys for idempotent requests can only be used with the same parameters "
                     f"they were used with previously. Try using a key other than '{key}' if you "
                     "meant to execute a different request.", type="idempotency_error")
            return 400, error.to_json(), headers
        return status, _copy(body), {**headers, "Idempotent-Replayed": "true"}

    def _expand(self, body: dict[str, Any], expand: Any) -> dict[str, Any]:
        paths = expand if isinstance(expand, list) else [expand] if expand else []
        for i, path in enumerate(paths):
            parts = str(path).split(".")
            if body.get("object") == "list":
                if parts[0] != "data":
                    raise StripeError(400, f"This property cannot be expanded ({path}).",
                                      param=f"expand[{i}]")
                for item in body["data"]:
                    self._expand_path(item, parts[1:], path, i)
            else:
                self._expand_path(body, parts, path, i)
        return body

    def _expand_path(self, obj: dict[str, Any], parts: list[str], path: str, index: int):
        if not parts:
            return
        key, rest = parts[0], parts[1:]
        if obj.get("object") == "checkout.session" and key == "line_items":
            items = list(reversed(self._line_items.get(obj["id"], [])))
            obj[key] = self._list(f"/v1/checkout/sessions/{obj['id']}/line_items", items, {})
            return
        value = obj.get(key)
        if isinstance(value, str) and value in self._objects:
            value = obj[key] = _copy(self._objects[value])
        elif value is not None and not isinstance(value, dict):
            raise StripeError(400, f"This property cannot be expanded ({path}).",
                              param=f"expand[{index}]")
        if isinstance(value, dict):
            self._expand_path(value, rest, path, index)

    # -- HTML pages -------------------------------------------------------------------------

    def checkout_page(self, session_id: str) -> tuple[int, str]:
        with self._lock:
            session = self._objects.get(session_id)
            if session is None or session["object"] != "checkout.session":
                return 404, _page("Not found", "<p>No such Checkout Session.</p>")
            session = _copy(session)
            items = _copy(self._line_items[session_id])
            intent = self._objects.get(session["payment_intent"] or "", {})
            processing = intent.get("status") == "processing"
        rows = "".join(
            f"<tr><td>{html.escape(str(i['description']))} × {i['quantity']}</td>"
            f"<td>{_money(i['amount_total'], i['currency'])}</td></tr>" for i in items)
        total = _money(session["amount_total"], session["currency"])
        summary = f"<table>{rows}<tr><th>Total</th><th>{total}</th></tr></table>"
        action = f"/_fake/checkout_sessions/{html.escape(session_id)}"
        if session["status"] == "open":
            email = html.escape(session["customer_email"] or "")
            cancel = (f'<p><a href="{html.escape(session["cancel_url"])}">Cancel</a></p>'
                      if session["cancel_url"] else "")
            body = (f"{summary}<form method='post' action='{action}/pay'>"
                    f"<p><label>Email <input name='email' value='{email}'></label></p>"
                    "<p><label><input type='checkbox' name='async' value='true'> Pay by bank "
                    "debit (settles later)</label></p>"
                    f"<p><button type='submit'>Pay {total}</button></p></form>{cancel}")
        else:
            body = f"{summary}<p>Status: {session['status']}, payment: " \
                   f"{session['payment_status']}.</p>"
            if processing:
                body += "".join(
                    f"<form method='post' action='{action}/async_payment_{outcome}'>"
                    f"<button type='submit'>Bank debit {outcome}</button></form>"
                    for outcome in ("succeeded", "failed"))
            if session["success_url"]:
                body += (f"<p><a href='{html.escape(_success_url(session))}'>Return to the "
                         "merchant</a></p>")
        return 200, _page("Fake Stripe Checkout", body)

    def receipt_page(self, charge_id: str) -> tuple[int, str]:
        with self._lock:
            charge = self._objects.get(charge_id)
            if charge is None or charge["object"] != "charge":
                return 404, _page("Not found", "<p>No such receipt.</p>")
            charge = _copy(charge)
        body = (f"<p>Receipt for {html.escape(charge_id)}</p>"
                f"<p>Amount paid: {_money(charge['amount'], charge['currency'])}</p>"
                f"<p>Refunded: {_money(charge['amount_refunded'], charge['currency'])}</p>")
        return 200, _page("Receipt", body)


def _money(cents: int, currency: str) -> str:
    return f"{Decimal(cents) / 100:.2f} {currency.upper()}"


def _success_url(session: dict[str, Any]) -> str:
    return session["success_url"].replace("{CHECKOUT_SESSION_ID}", session["id"])


def _page(title: str, body: str) -> str:
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>{title}</title></head>"
            f"<body><h1>{title}</h1>{body}</body></html>")


# ---------------------------------------------------------------------------------------------
# HTTP


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address, handler, fake: FakeStripe):
        super().__init__(address, handler)
        self.fake = fake


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    server_version = "FakeStripe/1.0"
    verbose = False

    def log_message(self, format: str, *args: Any) -> None:
        if self.verbose:
            super().log_message(format, *args)

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")

    def _dispatch(self, method: str) -> None:
        url = urlsplit(self.path)
        fake = self.server.fake
        try:
            if url.path.startswith("/v1/"):
                self._api(method, url.path, url.query)
            elif url.path.startswith("/_fake/"):
                self._control(method, url.path, url.query)
            elif method == "GET" and (m := re.fullmatch(r"/pay/([^/]+)", url.path)):
                self._html(*fake.checkout_page(m.group(1)))
            elif method == "GET" and (m := re.fullmatch(r"/receipts/([^/]+)", url.path)):
                self._html(*fake.receipt_page(m.group(1)))
            else:
                self._json(404, StripeError(404, f"Not found: {url.path}").to_json())
        except StripeError as error:
            self._json(error.status, error.to_json())
        except Exception as error:  # a bug in the fake: say so instead of dropping the socket
            traceback.print_exc()
            self._json(500, StripeError(500, f"Fake Stripe crashed: {error!r}",
                                        type="api_error").to_json(),
                       {"Stripe-Should-Retry": "false"})

    def _read_params(self, query: str) -> dict[str, Any]:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        pairs = parse_qsl(query, keep_blank_values=True)
        if raw and "json" in (self.headers.get("Content-Type") or ""):
            try:
                return {**parse_form(pairs), **json.loads(raw)}
            except ValueError:
                raise StripeError(400, "Invalid JSON body") from None
        return parse_form(pairs + parse_qsl(raw.decode(), keep_blank_values=True))

    def _api_key(self) -> str:
        scheme, _, credentials = (self.headers.get("Authorization") or "").partition(" ")
        if scheme.lower() == "bearer":
            key = credentials.strip()
        elif scheme.lower() == "basic":  # `curl -u sk_test_...:` style
            try:
                key = base64.b64decode(credentials).decode().partition(":")[0]
            except ValueError:
                key = ""
        else:
            key = ""
        if not key:
            raise StripeError(401, "You did not provide an API key. You need to provide your API "
                                   "key in the Authorization header, using Bearer auth (e.g. "
                                   "'Authorization: Bearer YOUR_SECRET_KEY').")
        if not key.startswith("sk_test_"):
            shown = f"{key[:8]}{'*' * 12}{key[-4:]}" if len(key) > 12 else key
            raise StripeError(401, f"Invalid API Key provided: {shown}")
        return key

    def _api(self, method: str, path: str, query: str) -> None:
        api_key = self._api_key()
        params = self._read_params(query)
        status, body, headers = self.server.fake.handle_api(
            method, path, params, api_key, self.headers.get("Idempotency-Key"))
        self._json(status, body, headers)

    def _wants_html(self) -> bool:
        return "text/html" in (self.headers.get("Accept") or "")

    def _control(self, method: str, path: str, query: str) -> None:
        fake = self.server.fake
        params = self._read_params(query)
        route = f"{method} {path}"
        if m := re.fullmatch(r"POST /_fake/checkout_sessions/([^/]+)/pay", route):
            session = fake.pay_checkout_session(
                m.group(1), async_payment=_bool(params.get("async", False), "async"),
                email=params.get("email") or None, name=params.get("name") or None)
            self._after_payment(session, to_merchant=True)
        elif m := re.fullmatch(r"POST /_fake/checkout_sessions/([^/]+)/async_payment_(\w+)",
                               route):
            session = fake.settle_async_payment(m.group(1), succeeded=m.group(2) == "succeeded")
            self._after_payment(session, to_merchant=False)
        elif m := re.fullmatch(r"POST /_fake/charges/([^/]+)/refund", route):
            amount = _int(params["amount"], "amount") if params.get("amount") else None
            self._json(200, fake.refund_charge(m.group(1), amount, params.get("reason")))
        elif m := re.fullmatch(r"POST /_fake/charges/([^/]+)/dispute", route):
            amount = _int(params["amount"], "amount") if params.get("amount") else None
            self._json(200, fake.open_dispute(m.group(1), amount,
                                              params.get("reason") or "fraudulent"))
        elif m := re.fullmatch(r"POST /_fake/disputes/([^/]+)/close", route):
            status = params.get("status") or "lost"
            if status not in ("won", "lost"):
                raise StripeError(400, "status must be won or lost", param="status")
            self._json(200, fake.close_dispute(m.group(1), status))
        elif m := re.fullmatch(r"(POST|DELETE) /_fake/customers/([^/]+)/decline_off_session",
                               route):
            if m.group(1) == "POST":
                fake.decline_off_session(m.group(2),
                                         params.get("decline_code") or "generic_decline")
            else:
                fake.clear_declines(m.group(2))
            self._json(200, {"customer": m.group(2), "declines": m.group(1) == "POST"})
        elif m := re.fullmatch(r"POST /_fake/customers/([^/]+)/payment_methods", route):
            self._json(200, fake.add_payment_method(m.group(1)))
        elif route == "GET /_fake/events":
            self._events(fake, _bool(params.get("pending", False), "pending"))
        elif route == "POST /_fake/events/deliver":
            deliveries = fake.deliver_pending(params.get("url") or None)
            self._json(200, {"deliveries": [asdict(d) for d in deliveries]})
        elif route == "POST /_fake/webhook":
            fake.configure_webhook(params.get("url") or None, params.get("secret") or None,
                                   _bool(params.get("auto_deliver", True), "auto_deliver"))
            self._json(200, {"url": fake.webhook_url, "auto_deliver": fake.auto_deliver})
        elif route == "POST /_fake/reset":
            fake.reset()
            self._json(200, {"reset": True})
        else:
            self._json(404, StripeError(404, f"Unknown control endpoint: {route}").to_json())

    def _events(self, fake: FakeStripe, pending: bool) -> None:
        if not pending:
            self._json(200, {"object": "list", "data": fake.events,
                             "pending": [e["id"] for e in fake.pending_events()]})
            return
        signed = [fake.sign_event(e) for e in fake.pending_events()]
        self._json(200, {"object": "list", "data": [
            {"event": s.event, "payload": s.payload.decode(), "stripe_signature": s.signature}
            for s in signed]})

    def _after_payment(self, session: dict[str, Any], *, to_merchant: bool) -> None:
        # A browser goes back to the merchant after paying, as on Stripe; settling a bank
        # debit is a tester's action, so it returns to the session's page.
        if not self._wants_html():
            self._json(200, session)
        elif to_merchant and session["success_url"]:
            self._redirect(_success_url(session))
        else:
            self._redirect(f"/pay/{session['id']}")

    def _json(self, status: int, body: dict[str, Any],
              headers: dict[str, str] | None = None) -> None:
        data = json.dumps(body, indent=2).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Stripe-Version", self.server.fake.api_version)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def _html(self, status: int, text: str) -> None:
        data = text.encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _redirect(self, location: str) -> None:
        self.send_response(303)
        self.send_header("Location", location)
        self.send_header("Content-Length", "0")
        self.end_headers()


# ---------------------------------------------------------------------------------------------
# Entry points


@contextmanager
def running_fake_stripe(webhook_url: str | None = None,
                        webhook_secret: str = DEFAULT_WEBHOOK_SECRET, *,
                        auto_deliver: bool = True, port: int = 0) -> Iterator[FakeStripe]:
    """Serve a fresh fake on 127.0.0.1 (a free port unless `port`) for the `with` block."""
    fake = FakeStripe(port=port, webhook_url=webhook_url, webhook_secret=webhook_secret,
                      auto_deliver=auto_deliver)
    fake.start()
    try:
        yield fake
    finally:
        fake.stop()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Serve a fake Stripe API (see module docstring).")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=12111)
    parser.add_argument("--webhook-url", default=None)
    parser.add_argument("--webhook-secret", default=DEFAULT_WEBHOOK_SECRET)
    parser.add_argument("--no-auto-deliver", action="store_true",
                        help="keep events pending until POST /_fake/events/deliver")
    parser.add_argument("--quiet", action="store_true", help="do not log requests")
    args = parser.parse_args(argv)
    _Handler.verbose = not args.quiet
    fake = FakeStripe(host=args.host, port=args.port, webhook_url=args.webhook_url,
                      webhook_secret=args.webhook_secret, auto_deliver=not args.no_auto_deliver)
    fake.start()
    print(f"Fake Stripe API at {fake.api_base} (any sk_test_ key)")
    print(f"Webhooks: {fake.webhook_url or 'none; GET /_fake/events?pending=true'} "
          f"signed with {fake.webhook_secret}", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        fake.stop()


if __name__ == "__main__":
    main()
