"""Server-rendered purchase pages (the dashboard restyles them later) and the Stripe webhook."""

import json
import logging

import stripe
from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import render
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from accounts.models import Membership, Scope
from accounts.tenancy import tenant_of
from billing.payments import selectors, services
from billing.payments.gateway import stripe_configured
from billing.payments.models import EventStatus
from config.errors import DomainError

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
    return render(request, "payments/success.html", context,
                  status=200 if context.get("found") or not session_id else 404)


def checkout_cancel(request):
    return render(request, "payments/cancel.html", {"configured": stripe_configured()})


@login_required
def buy(request):
    """Pick a pack or an amount; POST starts a Checkout Session and redirects to Stripe."""
    tenant = tenant_of(request)
    error = None
    if request.method == "POST":
        if Scope.BILLING not in tenant.scopes:
            return HttpResponse("Only owners and admins can buy credits.", status=403)
        pack = request.POST.get("pack") or None
        try:
            payment = services.checkout_start(
                organization=tenant.organization, user=request.user,
                pack_id=int(pack) if pack and pack.isdigit() else None,
                amount=None if pack else (request.POST.get("amount") or "").strip() or None)
            return HttpResponseRedirect(payment.checkout_url)
        except DomainError as problem:
            error = problem.message
    packs = []
    for pack in selectors.credit_packs_active():
        bonus, bp = services.bonus_for(pack.amount)
        packs.append({"pack": pack, "bonus": bonus, "bp": bp, "credits": pack.amount + bonus})
    low, high = services.purchase_limits()
    return render(request, "payments/buy.html", {
        "configured": stripe_configured(), "packs": packs, "error": error,
        "min_usd": low // 1_000_000, "max_usd": high // 1_000_000,
        "account": selectors.payment_account_of(organization=tenant.organization),
        "can_buy": Scope.BILLING in tenant.scopes,
    })
