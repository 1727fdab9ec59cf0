"""Reads for brand assets, always through the caller's tenant: a brand the caller cannot see, and
everything in it, is 404 (another organization's, or another brand for a brand-bound key)."""

from accounts.models import Brand
from accounts.tenancy import Tenant
from config.errors import NotFound
from generation.assets.models import BrandAsset, Character, StylePreset


def brands_visible(*, tenant: Tenant):
    brands = Brand.objects.filter(organization=tenant.organization, archived_at__isnull=True)
    return tenant.scope_to_brands(brands, field="pk").order_by("name", "pk")


def brand_visible(*, tenant: Tenant, brand_id) -> Brand:
    brand = brands_visible(tenant=tenant).filter(pk=brand_id).first()
    if brand is None:
        raise NotFound("No such brand.", code="brand_not_found", param="brand")
    return brand


def _visible(model, *, tenant: Tenant):
    return tenant.scope_to_brands(model.objects.filter(organization=tenant.organization,
                                                       brand__archived_at__isnull=True))


def assets_of(*, brand: Brand):
    return BrandAsset.objects.filter(brand=brand).order_by("-created_at", "-pk")


def characters_of(*, brand: Brand):
    return (Character.objects.filter(brand=brand).prefetch_related("images")
            .order_by("name", "pk"))


def style_presets_of(*, brand: Brand):
    return StylePreset.objects.filter(brand=brand).order_by("name", "pk")


def _one_visible(queryset, *, pk, brand: Brand | None, what: str, code: str, param: str):
    """The row `pk` of a tenant-visible queryset (within `brand` when given), else a 404."""
    if brand is not None:
        queryset = queryset.filter(brand=brand)
    found = queryset.filter(pk=pk).first()
    if found is None:
        raise NotFound(f"No such {what}.", code=code, param=param)
    return found


def asset_for(*, tenant: Tenant, asset_id, brand: Brand | None = None,
              param: str = "asset") -> BrandAsset:
    return _one_visible(_visible(BrandAsset, tenant=tenant), pk=asset_id, brand=brand,
                        what="asset", code="asset_not_found", param=param)


def character_for(*, tenant: Tenant, character_id, brand: Brand | None = None,
                  param: str = "character") -> Character:
    return _one_visible(_visible(Character, tenant=tenant).prefetch_related("images__asset"),
                        pk=character_id, brand=brand, what="character",
                        code="character_not_found", param=param)


def style_preset_for(*, tenant: Tenant, preset_id, brand: Brand | None = None,
                     param: str = "style_preset") -> StylePreset:
    return _one_visible(_visible(StylePreset, tenant=tenant), pk=preset_id, brand=brand,
                        what="style preset", code="style_preset_not_found", param=param)
