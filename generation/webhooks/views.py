"""Dashboard pages for customer webhooks: endpoints (create with an event filter, enable or
disable, delete), the signing secret (shown once, rotate), the delivery log, test ping, resend.
Owners and admins only; every write is a generation.webhooks.services call."""

import uuid

from django.contrib import messages
from django.shortcuts import redirect

from accounts.models import Scope
from accounts.pages import render_page, tenant_page
from config.errors import DomainError, NotFound
from generation.webhooks import selectors, services
from generation.webhooks.services import SECRET_ROTATION_OVERLAP, SUBSCRIBABLE_EVENTS

DELIVERIES_SHOWN = 50


def _uuid(value) -> uuid.UUID:
    try:
        return uuid.UUID(str(value))
    except ValueError:
        raise NotFound("No such webhook delivery.", code="delivery_not_found") from None


def _secret_page(request, endpoint, *, rotated: bool):
    # Rendered, not redirected: the secret is in this one response and never shown again.
    return render_page(request, "dashboard/webhook_secret.html", {
        "endpoint": endpoint, "rotated": rotated,
        "overlap_hours": int(SECRET_ROTATION_OVERLAP.total_seconds() // 3600)})


@tenant_page(Scope.ADMIN)
def webhooks(request, tenant):
    if request.method == "POST":
        try:
            endpoint = services.webhook_endpoint_create(
                organization=tenant.organization, url=request.POST.get("url", "").strip(),
                event_types=request.POST.getlist("event_types"),
                description=request.POST.get("description", "").strip()[:200])
        except DomainError as error:
            messages.error(request, error.message)
        else:
            return _secret_page(request, endpoint, rotated=False)
    return render_page(request, "dashboard/webhooks.html", {
        "endpoints": selectors.endpoints_of(tenant), "events": SUBSCRIBABLE_EVENTS,
        "posted": request.POST if request.method == "POST" else None,
        "selected": request.POST.getlist("event_types")})


@tenant_page(Scope.ADMIN)
def webhook_detail(request, tenant, endpoint_id):
    endpoint = selectors.endpoint_for(tenant=tenant, endpoint_id=endpoint_id)
    if request.method == "POST":
        action = request.POST.get("action", "")
        if action == "rotate":
            return _secret_page(request, services.webhook_secret_rotate(endpoint=endpoint),
                                rotated=True)
        if action == "delete":
            services.webhook_endpoint_delete(endpoint=endpoint)
            messages.success(request, f"Endpoint {endpoint.url} deleted.")
            return redirect("dashboard:webhooks")
        if action in ("enable", "disable"):
            services.webhook_endpoint_update(endpoint=endpoint, enabled=action == "enable")
            messages.success(request, f"Endpoint {action}d.")
        elif action == "events":
            services.webhook_endpoint_update(endpoint=endpoint,
                                             event_types=request.POST.getlist("event_types"))
            messages.success(request, "Event filter saved.")
        elif action == "test":
            services.webhook_endpoint_test(endpoint=endpoint)
            messages.success(request, "Test message queued: it appears below.")
        elif action == "resend":
            delivery = selectors.delivery_for(tenant=tenant,
                                              delivery_id=_uuid(request.POST.get("delivery")))
            if delivery.endpoint_id != endpoint.pk:
                raise NotFound("No such webhook delivery.", code="delivery_not_found")
            services.webhook_delivery_resend(delivery=delivery)
            messages.success(request, "Message queued again as a new delivery.")
        return redirect("dashboard:webhook_detail", endpoint_id=endpoint.pk)
    return render_page(request, "dashboard/webhook_detail.html", {
        "endpoint": endpoint, "events": SUBSCRIBABLE_EVENTS,
        "deliveries": selectors.deliveries_of(endpoint=endpoint)[:DELIVERIES_SHOWN]})
