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


def asset_for(*, tenant: Tenant, asset_id, brand: Brand | None = None,
              param: str = "asset") -> BrandAsset:
    assets = _visible(BrandAsset, tenant=tenant)
    if brand is not None:
        assets = assets.filter(brand=brand)
    asset = assets.filter(pk=asset_id).first()
    if asset is None:
        raise NotFound("No such asset.", code="asset_not_found", param=param)
    return asset


def character_for(*, tenant: Tenant, character_id, brand: Brand | None = None,
                  param: str = "character") -> Character:
    characters = _visible(Character, tenant=tenant).prefetch_related("images__asset")
    if brand is not None:
        characters = characters.filter(brand=brand)
    character = characters.filter(pk=character_id).first()
    if character is None:
        raise NotFound("No such character.", code="character_not_found", param=param)
    return character


def style_preset_for(*, tenant: Tenant, preset_id, brand: Brand | None = None,
                     param: str = "style_preset") -> StylePreset:
    presets = _visible(StylePreset, tenant=tenant)
    if brand is not None:
        presets = presets.filter(brand=brand)
    preset = presets.filter(pk=preset_id).first()
    if preset is None:
        raise NotFound("No such style preset.", code="style_preset_not_found", param=param)
    return preset
