"""Writes for tenants: organizations, members, brands and API keys."""

import hashlib
import secrets
from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone
from django.utils.text import slugify

from accounts.models import (
    DEFAULT_SCOPES,
    ApiKey,
    Brand,
    Invitation,
    Membership,
    Organization,
    Role,
    Scope,
    User,
)
from billing.services import wallet_open_with_signup_credits
from config.errors import DomainError

KEY_PREFIX = "atl_"


def hash_api_key(raw_key: str) -> str:
    # Keys carry 256 bits of randomness, so a fast hash is enough: nothing to brute-force.
    return hashlib.sha256(raw_key.encode()).hexdigest()


def _unique_slug(model, base: str, **scope) -> str:
    base = slugify(base)[:50] or "org"
    slug, n = base, 1
    while model.objects.filter(slug=slug, **scope).exists():
        n += 1
        slug = f"{base}-{n}"
    return slug


@transaction.atomic
def organization_create(*, name: str, owner: User, brand_name: str | None = None,
                        signup_credits: int | None = None) -> Organization:
    """A new organization with its owner, a first brand and a wallet holding the signup credits.

    `signup_credits` (micro-USD) overrides the signup rule, for operators creating tenants.
    """
    organization = Organization.objects.create(name=name, slug=_unique_slug(Organization, name))
    Membership.objects.create(user=owner, organization=organization, role=Role.OWNER)
    brand_create(organization=organization, name=brand_name or name)
    wallet_open_with_signup_credits(organization=organization, amount=signup_credits, actor=owner)
    return organization


def brand_create(*, organization: Organization, name: str) -> Brand:
    return Brand.objects.create(organization=organization, name=name,
                                slug=_unique_slug(Brand, name, organization=organization))


# --- Dashboard: sign-up, brands, team and invitations -------------------------------------

INVITATION_TTL = timezone.timedelta(days=7)


@transaction.atomic
def user_signup(*, email: str, password: str, organization_name: str,
                name: str = "") -> tuple[User, Organization]:
    """A new user with their own organization (and its signup credits)."""
    email = email.strip().lower()
    if User.objects.filter(email=email).exists():
        raise DomainError("An account with this email already exists.", code="email_taken",
                          param="email")
    user = User.objects.create_user(email=email, password=password, name=name.strip())
    return user, organization_create(name=organization_name.strip() or email, owner=user)


def brand_update(*, brand: Brand, name: str) -> Brand:
    brand.name = name.strip()
    brand.save(update_fields=["name"])
    return brand


def brand_archive(*, brand: Brand) -> None:
    """Archived brands take no new jobs; their history stays."""
    Brand.objects.filter(pk=brand.pk, archived_at__isnull=True).update(archived_at=timezone.now())


def brand_restore(*, brand: Brand) -> None:
    Brand.objects.filter(pk=brand.pk).update(archived_at=None)


def _brands_of(organization: Organization, brands) -> list[Brand]:
    brands = list(brands or [])
    if any(brand.organization_id != organization.pk for brand in brands):
        raise DomainError("The brand belongs to another organization.", code="invalid_brand",
                          param="brands")
    return brands


def invitation_create(*, organization: Organization, email: str, role: str,
                      invited_by: User | None = None, brands=None) -> tuple[Invitation, str]:
    """An invitation and its raw token (shown once, in the emailed link)."""
    email = email.strip().lower()
    if role not in Role.values:
        raise DomainError(f"Unknown role '{role}'.", code="invalid_role", param="role")
    if Membership.objects.filter(organization=organization, user__email=email).exists():
        raise DomainError(f"{email} is already a member.", code="already_member", param="email")
    brands = _brands_of(organization, brands)
    raw = secrets.token_urlsafe(32)
    invitation = Invitation.objects.create(
        organization=organization, email=email, role=role, token_hash=hash_api_key(raw),
        invited_by=invited_by, expires_at=timezone.now() + INVITATION_TTL)
    invitation.brands.set(brands)
    return invitation, raw


def invitation_by_token(raw: str) -> Invitation | None:
    return (Invitation.objects.select_related("organization")
            .filter(token_hash=hash_api_key(raw)).first())


@transaction.atomic
def invitation_accept(*, invitation: Invitation, user: User) -> Membership:
    """Join the organization with the invited role and brands. One use only, before expiry."""
    locked = Invitation.objects.select_for_update().get(pk=invitation.pk)
    if not locked.is_pending:
        raise DomainError("This invitation has expired or was already used.",
                          code="invitation_invalid")
    if user.email.lower() != locked.email:
        raise DomainError(f"This invitation is for {locked.email}.", code="invitation_email")
    membership, created = Membership.objects.get_or_create(
        user=user, organization=locked.organization, defaults={"role": locked.role})
    if created:
        membership.brands.set(locked.brands.all())
    Invitation.objects.filter(pk=locked.pk).update(accepted_at=timezone.now(), accepted_by=user)
    return membership


def invitation_revoke(*, invitation: Invitation) -> None:
    Invitation.objects.filter(pk=invitation.pk, accepted_at__isnull=True).update(
        revoked_at=timezone.now())


def _other_owners(membership: Membership) -> bool:
    return Membership.objects.filter(organization=membership.organization_id,
                                     role=Role.OWNER).exclude(pk=membership.pk).exists()


def membership_update(*, membership: Membership, role: str, brands, acting_role: str) -> None:
    """Change a member's role and brand access. Only an owner makes or unmakes owners; the last
    owner stays an owner."""
    if role not in Role.values:
        raise DomainError(f"Unknown role '{role}'.", code="invalid_role", param="role")
    touches_owner = Role.OWNER in (role, membership.role)
    if touches_owner and acting_role != Role.OWNER:
        raise DomainError("Only an owner can grant or remove the owner role.",
                          code="owner_required", status_code=403)
    if membership.role == Role.OWNER and role != Role.OWNER and not _other_owners(membership):
        raise DomainError("An organization keeps at least one owner.", code="last_owner")
    with transaction.atomic():
        membership.role = role
        membership.save(update_fields=["role"])
        membership.brands.set(_brands_of(membership.organization, brands))


def membership_remove(*, membership: Membership, acting_role: str) -> None:
    if membership.role == Role.OWNER:
        if acting_role != Role.OWNER:
            raise DomainError("Only an owner can remove an owner.", code="owner_required",
                              status_code=403)
        if not _other_owners(membership):
            raise DomainError("An organization keeps at least one owner.", code="last_owner")
    membership.delete()


# --- end of dashboard block --------------------------------------------------------------


def api_key_create(*, organization: Organization, name: str, brand: Brand | None = None,
                   scopes: list[str] | None = None, expires_at: datetime | None = None,
                   created_by: User | None = None) -> tuple[ApiKey, str]:
    """Returns the key row and its secret; the secret is never stored and cannot be shown again."""
    if brand is not None and brand.organization_id != organization.pk:
        raise DomainError("The brand belongs to another organization.", code="invalid_brand",
                          param="brand")
    scopes = list(scopes) if scopes is not None else list(DEFAULT_SCOPES)
    unknown = sorted(set(scopes) - set(Scope.values))
    if unknown:
        raise DomainError(f"Unknown scopes: {', '.join(unknown)}.", code="invalid_scope",
                          param="scopes")
    raw = KEY_PREFIX + secrets.token_urlsafe(32)
    key = ApiKey.objects.create(
        organization=organization, brand=brand, name=name, prefix=raw[:12],
        secret_hash=hash_api_key(raw), scopes=scopes, expires_at=expires_at,
        created_by=created_by,
    )
    return key, raw


def api_key_revoke(*, api_key: ApiKey) -> None:
    ApiKey.objects.filter(pk=api_key.pk, revoked_at__isnull=True).update(revoked_at=timezone.now())


def api_key_touch(*, api_key: ApiKey) -> None:
    """Record use at most once a minute per key, so authentication is not a write per request."""
    now = timezone.now()
    stale = now - timedelta(seconds=60)
    if api_key.last_used_at is not None and api_key.last_used_at > stale:
        return
    ApiKey.objects.filter(pk=api_key.pk).exclude(last_used_at__gt=stale).update(last_used_at=now)
