"""Tenant-scoped reads: another organization's endpoints and deliveries do not exist."""

from rest_framework.exceptions import PermissionDenied

from accounts.tenancy import Tenant
from config.errors import NotFound
from generation.webhooks.models import WebhookDelivery, WebhookEndpoint


def _organization_wide(tenant: Tenant) -> None:
    if tenant.brand is not None:
        raise PermissionDenied("Webhooks belong to the organization; a key bound to one brand "
                               "cannot manage them.", code="brand_key_not_allowed")


def endpoints_of(tenant: Tenant):
    _organization_wide(tenant)
    return WebhookEndpoint.objects.filter(organization=tenant.organization).order_by("-created_at")


def endpoint_for(*, tenant: Tenant, endpoint_id) -> WebhookEndpoint:
    endpoint = endpoints_of(tenant).filter(pk=endpoint_id).first()
    if endpoint is None:
        raise NotFound("No such webhook endpoint.", code="webhook_not_found")
    return endpoint


def deliveries_of(*, endpoint: WebhookEndpoint):
    return (WebhookDelivery.objects.filter(endpoint=endpoint).select_related("message")
            .prefetch_related("attempt_log").order_by("-created_at"))


def delivery_for(*, tenant: Tenant, delivery_id) -> WebhookDelivery:
    _organization_wide(tenant)
    delivery = (WebhookDelivery.objects.select_related("message", "endpoint")
                .filter(pk=delivery_id, endpoint__organization=tenant.organization).first())
    if delivery is None:
        raise NotFound("No such webhook delivery.", code="delivery_not_found")
    return delivery


def organizations_listening() -> set:
    """Ids of the organizations with at least one enabled endpoint (not tenant-scoped: for the
    worker, which skips building events nobody would receive)."""
    return set(WebhookEndpoint.objects.filter(enabled=True)
               .values_list("organization_id", flat=True).distinct())
