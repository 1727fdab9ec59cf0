"""Tenant-scoped reads for the dashboard: memberships, brands, keys, invitations."""

from accounts.models import ApiKey, Brand, Invitation, Membership, Organization
from accounts.tenancy import Tenant
from config.errors import NotFound


def organizations_of(*, user) -> list[Organization]:
    return [m.organization for m in
            Membership.objects.select_related("organization").filter(user=user)
            .order_by("organization__name")]


def brands_visible_to(tenant: Tenant, *, include_archived: bool = False):
    brands = tenant.scope_to_brands(Brand.objects.filter(organization=tenant.organization), "pk")
    if not include_archived:
        brands = brands.filter(archived_at__isnull=True)
    return brands.order_by("archived_at", "name")


def brand_for(tenant: Tenant, brand_id) -> Brand:
    brand = brands_visible_to(tenant, include_archived=True).filter(pk=brand_id).first()
    if brand is None:
        raise NotFound("No such brand.", code="brand_not_found")
    return brand


def memberships_of(tenant: Tenant):
    return (Membership.objects.filter(organization=tenant.organization)
            .select_related("user").prefetch_related("brands").order_by("created_at"))


def membership_for(tenant: Tenant, membership_id) -> Membership:
    membership = memberships_of(tenant).filter(pk=membership_id).first()
    if membership is None:
        raise NotFound("No such member.", code="member_not_found")
    return membership


def pending_invitations_of(tenant: Tenant):
    return (Invitation.objects.filter(organization=tenant.organization, accepted_at__isnull=True,
                                      revoked_at__isnull=True)
            .prefetch_related("brands").order_by("-created_at"))


def invitation_for(tenant: Tenant, invitation_id) -> Invitation:
    invitation = pending_invitations_of(tenant).filter(pk=invitation_id).first()
    if invitation is None:
        raise NotFound("No such invitation.", code="invitation_not_found")
    return invitation


def api_keys_of(tenant: Tenant):
    return (ApiKey.objects.filter(organization=tenant.organization).select_related("brand")
            .order_by("revoked_at", "-created_at"))


def api_key_for(tenant: Tenant, key_id) -> ApiKey:
    key = api_keys_of(tenant).filter(pk=key_id).first()
    if key is None:
        raise NotFound("No such API key.", code="api_key_not_found")
    return key
