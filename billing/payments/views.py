"""Stripe's return pages (success, cancel) in the dashboard layout, and the Stripe webhook.
Buying itself (`/billing/buy/`) is the dashboard's billing.views.buy."""

import json
import logging

import stripe
from django.conf import settings
from django.http import JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from accounts.models import Membership
from accounts.pages import render_public_page
from billing.payments import selectors, services
from billing.payments.gateway import stripe_configured
from billing.payments.models import EventStatus

logger = logging.getLogger(__name__)


def _error(status: int, code: str, message: str) -> JsonResponse:
    return JsonResponse({"error": {"code": code, "message": message, "param": None}},
                        status=status)


@csrf_exempt
@require_POST
def stripe_webhook(request):
    """Verify, store once, handle once. 400 and no change for a bad signature or a stale
    timestamp; 500 when a handler failed (Stripe redelivers); 200 otherwise, fast: handlers only
    touch the database."""
    secret = settings.STRIPE_WEBHOOK_SECRET
    if not secret:
        return _error(503, "payments_unavailable", "STRIPE_WEBHOOK_SECRET is not configured.")
    payload = request.body.decode("utf-8", errors="replace")
    try:
        stripe.Webhook.construct_event(payload, request.headers.get("Stripe-Signature"), secret)
    except stripe.SignatureVerificationError as error:
        return _error(400, "invalid_signature", str(error))
    except ValueError:
        return _error(400, "invalid_payload", "The body is not a Stripe event.")
    event = json.loads(payload)
    if not isinstance(event, dict) or not event.get("id"):
        return _error(400, "invalid_payload", "The body is not a Stripe event.")
    status = services.stripe_event_receive(event=event)
    if status == EventStatus.FAILED:
        return _error(500, "handler_failed", "The event was stored; its handler failed.")
    return JsonResponse({"received": True, "status": status})


def _is_member(user, organization_id) -> bool:
    return bool(user and user.is_authenticated and Membership.objects.filter(
        user=user, organization_id=organization_id).exists())


def checkout_success(request):
    """Stripe's return after paying: confirm with Stripe and credit now if the webhook has not
    already. Details are shown only to members of the paying organization."""
    context = {"configured": stripe_configured(), "payment": None, "pending": False}
    session_id = request.GET.get("session_id", "")
    if context["configured"] and session_id:
        try:
            payment = services.checkout_confirm_return(session_id=session_id)
        except stripe.StripeError as error:
            logger.warning("could not confirm checkout session %s: %s", session_id, error)
            payment = selectors.payment_by_session(session_id=session_id)
            context["pending"] = True
        if payment is not None:
            context["pending"] = context["pending"] or payment.paid_at is None
            context["found"] = True
            if _is_member(request.user, payment.organization_id):
                context["payment"] = payment
    return render_public_page(request, "dashboard/payment_success.html", context,
                              status=200 if context.get("found") or not session_id else 404)


def checkout_cancel(request):
    return render_public_page(request, "dashboard/payment_cancel.html",
                              {"configured": stripe_configured()})
