"""Dashboard pages for accounts: sign-up, organization switch, team, brands and API keys."""

from datetime import timedelta

from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.core.mail import send_mail
from django.db import transaction
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from accounts import selectors, services
from accounts.forms import ApiKeyForm, BrandForm, InvitationForm, JoinForm, MembershipForm, SignupForm
from accounts.models import Membership, Scope, User
from accounts.pages import ROLE_HELP, render_page, tenant_page
from billing.money import format_usd, parse_usd
from billing.selectors import wallet_of
from billing.spend_caps import brand_budget_of, spend_cap_remove, spend_cap_set
from config.errors import DomainError


def signup(request):
    if request.user.is_authenticated:
        return redirect("dashboard:home")
    form = SignupForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        if User.objects.filter(email=data["email"].lower()).exists():
            form.add_error("email", "An account with this email already exists. Log in instead.")
        else:
            user, organization = services.user_signup(
                email=data["email"], password=data["password"],
                organization_name=data["organization"])
            login(request, user, backend="django.contrib.auth.backends.ModelBackend")
            request.session["organization_id"] = str(organization.pk)
            credits = wallet_of(organization=organization).balance
            messages.success(request, f"Welcome to Atelier! {format_usd(credits, symbol=True)} of "
                                      "free credits are in your wallet.")
            return redirect("dashboard:home")
    return render(request, "dashboard/signup.html", {"form": form})


@require_POST
@login_required
def organization_switch(request):
    # Not behind tenant_page: someone whose current organization is suspended must still be able
    # to switch to another one. Membership alone decides.
    wanted = request.POST.get("organization_id", "")
    if not Membership.objects.filter(user=request.user, organization_id=wanted).exists():
        raise Http404("No such organization.")
    request.session["organization_id"] = wanted
    return redirect("dashboard:home")


# --- team -----------------------------------------------------------------------------------

def _invite_link(request, raw_token: str) -> str:
    return request.build_absolute_uri(reverse("dashboard:invitation", args=[raw_token]))


@tenant_page(Scope.READ)
def team(request, tenant):
    brands = list(selectors.brands_visible_to(tenant))
    form = InvitationForm(request.POST or None, brands=brands)
    if request.method == "POST":
        if Scope.ADMIN not in tenant.scopes:
            messages.error(request, "Only owners and admins can invite people.")
            return redirect("dashboard:team")
        if form.is_valid():
            data = form.cleaned_data
            invitation, raw = services.invitation_create(
                organization=tenant.organization, email=data["email"], role=data["role"],
                invited_by=request.user,
                brands=[b for b in brands if str(b.pk) in set(data["brands"])])
            link = _invite_link(request, raw)
            send_mail(
                subject=f"You are invited to {tenant.organization.name} on Atelier",
                message=(f"{request.user.email} invited you to join {tenant.organization.name} "
                         f"as {invitation.role}.\n\nAccept within 7 days: {link}\n"),
                from_email=None, recipient_list=[invitation.email])
            messages.success(request, f"Invitation sent to {invitation.email}.")
            return redirect("dashboard:team")
    return render_page(request, "dashboard/team.html", {
        "memberships": selectors.memberships_of(tenant),
        "invitations": selectors.pending_invitations_of(tenant),
        "form": form, "role_help": ROLE_HELP.items(), "brands": brands,
    })


@tenant_page(Scope.ADMIN)
def member_edit(request, tenant, membership_id):
    membership = selectors.membership_for(tenant, membership_id)
    brands = list(selectors.brands_visible_to(tenant))
    initial = {"role": membership.role, "brands": [str(b.pk) for b in membership.brands.all()]}
    form = MembershipForm(request.POST or None, initial=initial, brands=brands)
    if request.method == "POST" and form.is_valid():
        chosen = set(form.cleaned_data["brands"])
        services.membership_update(membership=membership, role=form.cleaned_data["role"],
                                   brands=[b for b in brands if str(b.pk) in chosen],
                                   acting_role=tenant.role)
        messages.success(request, f"Updated {membership.user.email}.")
        return redirect("dashboard:team")
    return render_page(request, "dashboard/member_edit.html",
                       {"membership": membership, "form": form})


@require_POST
@tenant_page(Scope.ADMIN)
def member_remove(request, tenant, membership_id):
    membership = selectors.membership_for(tenant, membership_id)
    services.membership_remove(membership=membership, acting_role=tenant.role)
    messages.success(request, f"Removed {membership.user.email}.")
    return redirect("dashboard:team")


@require_POST
@tenant_page(Scope.ADMIN)
def invitation_revoke(request, tenant, invitation_id):
    invitation = selectors.invitation_for(tenant, invitation_id)
    services.invitation_revoke(invitation=invitation)
    messages.success(request, f"Invitation to {invitation.email} revoked.")
    return redirect("dashboard:team")


def invitation(request, token):
    """The emailed link. Logged in as the invited email: accept. New address: create the account."""
    invite = services.invitation_by_token(token)
    if invite is None or not invite.is_pending:
        return render(request, "dashboard/invitation.html", {"invalid": True}, status=404)
    existing = User.objects.filter(email=invite.email).first()
    form = JoinForm(request.POST or None) if existing is None else None
    if request.method == "POST":
        user = request.user if request.user.is_authenticated else None
        try:
            if user is None and form is not None and form.is_valid():
                with transaction.atomic():
                    user = User.objects.create_user(email=invite.email,
                                                    password=form.cleaned_data["password"],
                                                    name=form.cleaned_data["name"])
                    services.invitation_accept(invitation=invite, user=user)
                login(request, user, backend="django.contrib.auth.backends.ModelBackend")
            elif user is not None:
                services.invitation_accept(invitation=invite, user=user)
        except DomainError as error:  # used meanwhile, expired, or meant for another address
            messages.error(request, error.message)
            return redirect("dashboard:invitation", token=token)
        if user is not None:
            request.session["organization_id"] = str(invite.organization_id)
            messages.success(request, f"You joined {invite.organization.name}.")
            return redirect("dashboard:home")
    return render(request, "dashboard/invitation.html",
                  {"invite": invite, "form": form, "existing": existing})


# --- brands ---------------------------------------------------------------------------------

@tenant_page(Scope.READ)
def brands(request, tenant):
    form = BrandForm(request.POST or None)
    if request.method == "POST":
        if Scope.ADMIN not in tenant.scopes:
            messages.error(request, "Only owners and admins can create brands.")
            return redirect("dashboard:brands")
        if form.is_valid():
            brand = services.brand_create(organization=tenant.organization,
                                          name=form.cleaned_data["name"])
            messages.success(request, f"Brand “{brand.name}” created.")
            return redirect("dashboard:brands")
    brands = list(selectors.brands_visible_to(tenant, include_archived=True))
    for brand in brands:
        brand.budget = brand_budget_of(brand=brand)
    return render_page(request, "dashboard/brands.html", {"brands": brands, "form": form})


@tenant_page(Scope.ADMIN)
def brand_edit(request, tenant, brand_id):
    brand = selectors.brand_for(tenant, brand_id)
    form = BrandForm(request.POST or None, initial={"name": brand.name})
    if request.method == "POST":
        action = request.POST.get("action", "save")
        if action == "archive":
            services.brand_archive(brand=brand)
            messages.success(request, f"Brand “{brand.name}” archived: it takes no new jobs.")
            return redirect("dashboard:brands")
        if action == "restore":
            services.brand_restore(brand=brand)
            messages.success(request, f"Brand “{brand.name}” restored.")
            return redirect("dashboard:brands")
        if action in ("budget", "budget_remove"):
            return _brand_budget(request, brand, action)
        if form.is_valid():
            services.brand_update(brand=brand, name=form.cleaned_data["name"])
            messages.success(request, "Brand saved.")
            return redirect("dashboard:brands")
    return render_page(request, "dashboard/brand_edit.html", {
        "brand": brand, "form": form, "budget": brand_budget_of(brand=brand)})


def _brand_budget(request, brand, action):
    if action == "budget_remove":
        if spend_cap_remove(brand=brand):
            messages.success(request, f"“{brand.name}” has no monthly budget now.")
        return redirect("dashboard:brand_edit", brand_id=brand.pk)
    try:
        limit = parse_usd((request.POST.get("limit") or "").strip().lstrip("$"))
    except ValueError:
        messages.error(request, "The budget must be a number of US dollars, like 50 or 49.50.")
        return redirect("dashboard:brand_edit", brand_id=brand.pk)
    cap = spend_cap_set(brand=brand, limit=limit)
    messages.success(request, f"Monthly budget of “{brand.name}” set to "
                              f"{format_usd(cap.limit, symbol=True)}.")
    return redirect("dashboard:brand_edit", brand_id=brand.pk)


# --- API keys -------------------------------------------------------------------------------

@tenant_page(Scope.ADMIN)
def api_keys(request, tenant):
    brands = list(selectors.brands_visible_to(tenant))
    form = ApiKeyForm(request.POST or None, brands=brands)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        brand = next((b for b in brands if str(b.pk) == data["brand"]), None)
        days = data["expires_in_days"]
        expires_at = timezone.now() + timedelta(days=int(days)) if days else None
        key, secret = services.api_key_create(
            organization=tenant.organization, name=data["name"], brand=brand,
            scopes=data["scopes"], expires_at=expires_at, created_by=request.user)
        # Rendered, not redirected: the secret lives only in this one response.
        return render_page(request, "dashboard/key_created.html", {"key": key, "secret": secret})
    return render_page(request, "dashboard/keys.html", {
        "keys": selectors.api_keys_of(tenant), "form": form, "now": timezone.now()})


@require_POST
@tenant_page(Scope.ADMIN)
def api_key_revoke(request, tenant, key_id):
    key = selectors.api_key_for(tenant, key_id)
    services.api_key_revoke(api_key=key)
    messages.success(request, f"Key {key.prefix}… revoked; calls with it now fail.")
    return redirect("dashboard:keys")


