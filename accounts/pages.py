"""What every dashboard page shares: the tenant from the session, role checks, the layout context.

Pages reach tenancy through the same door as the API (`tenant_of`), so a member's brand
restriction and a viewer's read-only role hold on every page and every action.
"""

from functools import wraps

from django.contrib import messages
from django.contrib.auth.views import redirect_to_login
from django.http import Http404, JsonResponse
from django.shortcuts import redirect, render
from rest_framework.exceptions import PermissionDenied

from accounts.models import Role, Scope
from accounts.selectors import organizations_of
from accounts.tenancy import Tenant, tenant_of
from config.errors import DomainError, NotFound

NAVIGATION = [
    # (url name, label, scope needed to see it)
    ("dashboard:home", "Overview", Scope.READ),
    ("dashboard:playground", "Playground", Scope.GENERATE),
    ("dashboard:gallery", "Gallery", Scope.READ),
    ("dashboard:usage", "Usage", Scope.READ),
    ("dashboard:brands", "Brands", Scope.READ),
    ("dashboard:keys", "API keys", Scope.ADMIN),
    ("dashboard:webhooks", "Webhooks", Scope.ADMIN),
    ("dashboard:team", "Team", Scope.READ),
    ("dashboard:billing", "Billing", Scope.BILLING),
]


def page_context(request, tenant: Tenant) -> dict:
    return {
        "tenant": tenant,
        "organization": tenant.organization,
        "role": tenant.role,
        "can_manage": Scope.ADMIN in tenant.scopes,
        "can_generate": Scope.GENERATE in tenant.scopes,
        "organizations": organizations_of(user=request.user),
        "navigation": [(name, label) for name, label, scope in NAVIGATION
                       if scope in tenant.scopes],
    }


def render_page(request, template: str, context: dict | None = None, status: int = 200):
    tenant = request.tenant
    return render(request, template, {**page_context(request, tenant), **(context or {})},
                  status=status)


def render_public_page(request, template: str, context: dict, status: int = 200):
    """A page anyone may open (e.g. Stripe's return pages): in the dashboard layout for a signed-in
    member of a usable organization, in the small sign-in layout otherwise."""
    layout = {"layout": "dashboard/auth_base.html"}
    if request.user.is_authenticated:
        try:
            tenant = tenant_of(request)
        except PermissionDenied:
            tenant = None
        if tenant is not None:
            request.tenant = tenant
            layout = {**page_context(request, tenant), "layout": "dashboard/base.html"}
    return render(request, template, {**layout, **context}, status=status)


def forbidden(request, message: str, *, as_json: bool = False):
    if as_json:
        return JsonResponse({"error": {"code": "forbidden", "message": message, "param": None}},
                            status=403)
    if getattr(request, "tenant", None) is None:
        # No usable organization (e.g. a suspended one): offer the person's other organizations.
        return render(request, "dashboard/forbidden.html", {
            "message": message, "organizations": organizations_of(user=request.user)
            if request.user.is_authenticated else []}, status=403)
    return render_page(request, "dashboard/forbidden.html", {"message": message}, status=403)


def tenant_page(scope: str = Scope.READ, *, as_json: bool = False):
    """Decorate a view `(request, tenant, ...)`: login required, `scope` required (roles map to
    scopes in accounts.tenancy), domain errors shown as a flash message or a JSON error."""

    def decorate(view):
        @wraps(view)
        def wrapper(request, *args, **kwargs):
            if not request.user.is_authenticated:
                if as_json:
                    return JsonResponse({"error": {"code": "not_authenticated",
                                                   "message": "Log in first.", "param": None}},
                                        status=401)
                return redirect_to_login(request.get_full_path())
            try:
                tenant = tenant_of(request)
            except PermissionDenied as denied:
                request.tenant = None
                return forbidden(request, str(denied.detail), as_json=as_json)
            request.tenant = tenant
            if scope not in tenant.scopes:
                return forbidden(request, f"Your role ({tenant.role}) cannot do this.",
                                 as_json=as_json)
            try:
                return view(request, tenant, *args, **kwargs)
            except NotFound as missing:
                if as_json:
                    return JsonResponse({"error": {"code": missing.code,
                                                   "message": missing.message, "param": None}},
                                        status=404)
                raise Http404(missing.message) from missing
            except DomainError as error:
                if as_json:
                    return JsonResponse({"error": {"code": error.code, "message": error.message,
                                                   "param": error.param}},
                                        status=error.status_code)
                if request.method != "POST":  # redirecting a GET to itself would loop
                    return render_page(request, "dashboard/forbidden.html",
                                       {"message": error.message, "title": "Cannot do that"},
                                       status=error.status_code)
                messages.error(request, error.message)
                return redirect(request.get_full_path())

        return wrapper

    return decorate


ROLE_HELP = {
    Role.OWNER: "everything, including billing and owners",
    Role.ADMIN: "everything but the owner role: team, keys, brands, billing",
    Role.MEMBER: "generate and read, optionally limited to some brands",
    Role.VIEWER: "read only",
}
