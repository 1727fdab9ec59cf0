"""The one door: who is calling, for which organization and brand, with which scopes.

Authentication puts the caller on the request; every customer-facing view asks `tenant_of`
and passes the result to selectors and services. Nothing else decides tenancy.
"""

from dataclasses import dataclass

from rest_framework.exceptions import NotAuthenticated, PermissionDenied

from accounts.models import ApiKey, Brand, Membership, Organization, Role, Scope

ROLE_SCOPES = {
    Role.OWNER: frozenset(Scope.values),
    Role.ADMIN: frozenset(Scope.values),
    Role.MEMBER: frozenset({Scope.GENERATE, Scope.READ}),
    Role.VIEWER: frozenset({Scope.READ}),
}


@dataclass(frozen=True)
class Tenant:
    organization: Organization
    scopes: frozenset[str]
    brand: Brand | None = None  # set when the key is bound to one brand
    api_key: ApiKey | None = None
    user: object | None = None
    role: str | None = None
    # A member restricted to some brands (Membership.brands): only their jobs, only their submits.
    # None means every brand of the organization.
    brand_ids: frozenset | None = None

    def require(self, scope: str) -> None:
        if scope not in self.scopes:
            raise PermissionDenied(f"This credential lacks the '{scope}' scope.",
                                   code="insufficient_scope")

    def allows_brand(self, brand_id) -> bool:
        if self.brand is not None and brand_id != self.brand.pk:
            return False
        return self.brand_ids is None or brand_id in self.brand_ids

    def scope_to_brands(self, queryset, field: str = "brand"):
        """`queryset` narrowed to the brands this caller may see (a bound key, or a restriction)."""
        if self.brand is not None:
            queryset = queryset.filter(**{field: self.brand.pk})
        if self.brand_ids is not None:
            queryset = queryset.filter(**{f"{field}__in": self.brand_ids})
        return queryset


def tenant_of(request) -> Tenant:
    cached = getattr(request, "_atelier_tenant", None)
    if cached is not None:
        return cached
    tenant = _resolve(request)
    request._atelier_tenant = tenant
    return tenant


def _resolve(request) -> Tenant:
    auth = getattr(request, "auth", None)
    if isinstance(auth, ApiKey):
        return Tenant(organization=auth.organization, brand=auth.brand, api_key=auth,
                      scopes=frozenset(auth.scopes))
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        raise NotAuthenticated()
    memberships = Membership.objects.select_related("organization").filter(user=user)
    wanted = request.session.get("organization_id") if hasattr(request, "session") else None
    membership = (memberships.filter(organization_id=wanted).first() if wanted else None) \
        or memberships.order_by("created_at").first()
    if membership is None:
        raise PermissionDenied("You are not a member of any organization.", code="no_organization")
    if membership.organization.suspended_at is not None:
        # The API-key path refuses it in accounts.authentication; a browser session gets the
        # same answer on every page and on every session-authenticated API call.
        raise PermissionDenied(f"The organization “{membership.organization.name}” is suspended; "
                               "contact support.", code="organization_suspended")
    return Tenant(organization=membership.organization, user=user, role=membership.role,
                  scopes=ROLE_SCOPES[membership.role], brand_ids=_brand_restriction(membership))


def _brand_restriction(membership: Membership) -> frozenset | None:
    if membership.role not in (Role.MEMBER, Role.VIEWER):
        return None  # owners and admins always see every brand
    ids = frozenset(membership.brands.values_list("pk", flat=True))
    return ids or None
