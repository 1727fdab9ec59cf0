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
