"""Writes for brand assets. Files are written to storage before the row's transaction and
removed after a delete commits: storage may be remote, and no network I/O runs inside a
transaction."""

import hashlib
from functools import partial

from django.core.files.base import ContentFile
from django.db import transaction
from django.db.models import ProtectedError

from accounts.models import Brand
from accounts.tenancy import Tenant
from config.errors import Conflict, DomainError
from generation import catalog
from generation.assets.models import (
    MAX_CHARACTER_IMAGES,
    BrandAsset,
    Character,
    CharacterImage,
    StylePreset,
)
from generation.assets.selectors import asset_for
from generation.imaging import EXTENSIONS, DecodedImage, validate_output_format


def _name(value, *, param: str = "name") -> str:
    name = (value or "").strip() if isinstance(value, str) else ""
    if not name or len(name) > 200:
        raise DomainError(f"{param} must be 1 to 200 characters.", code="invalid_field",
                          param=param)
    return name


def brand_asset_create(*, brand: Brand, name: str, image: DecodedImage) -> BrandAsset:
    asset = BrandAsset(organization_id=brand.organization_id, brand=brand, name=_name(name),
                       mime_type=image.mime_type, width=image.width, height=image.height,
                       size_bytes=len(image.data), sha256=hashlib.sha256(image.data).hexdigest())
    asset.file.save(f"{asset.id}.{EXTENSIONS[image.mime_type]}", ContentFile(image.data),
                    save=False)
    try:
        asset.save(force_insert=True)
    except BaseException:
        asset.file.delete(save=False)
        raise
    return asset


def brand_asset_rename(*, asset: BrandAsset, name: str) -> BrandAsset:
    asset.name = _name(name)
    asset.save(update_fields=["name"])
    return asset


def brand_asset_delete(*, asset: BrandAsset) -> None:
    """Refused (409) while a character uses the asset. Jobs keep their own copies of references,
    so deleting an asset never touches past generations."""
    with transaction.atomic():
        try:
            asset.delete()
        except ProtectedError:
            raise Conflict("This asset belongs to a character; remove it from the character "
                           "first.", code="asset_in_use", param="asset") from None
        transaction.on_commit(partial(asset.file.storage.delete, asset.file.name))


def _character_assets(*, tenant: Tenant, brand: Brand, asset_ids) -> list[BrandAsset]:
    if not isinstance(asset_ids, list) or not 1 <= len(asset_ids) <= MAX_CHARACTER_IMAGES:
        raise DomainError(f"A character has 1 to {MAX_CHARACTER_IMAGES} images (asset ids).",
                          code="invalid_field", param="assets")
    if len(set(map(str, asset_ids))) != len(asset_ids):
        raise DomainError("A character's images must be distinct assets.", code="invalid_field",
                          param="assets")
    return [asset_for(tenant=tenant, asset_id=asset_id, brand=brand, param=f"assets[{index}]")
            for index, asset_id in enumerate(asset_ids)]


def character_create(*, tenant: Tenant, brand: Brand, name: str, asset_ids: list,
                     description: str = "") -> Character:
    assets = _character_assets(tenant=tenant, brand=brand, asset_ids=asset_ids)
    with transaction.atomic():
        character = Character.objects.create(organization_id=brand.organization_id, brand=brand,
                                             name=_name(name), description=description or "")
        CharacterImage.objects.bulk_create([
            CharacterImage(character=character, asset=asset, index=index)
            for index, asset in enumerate(assets)])
    return character


def character_update(*, tenant: Tenant, character: Character, name: str | None = None,
                     description: str | None = None, asset_ids: list | None = None) -> Character:
    assets = None if asset_ids is None else _character_assets(
        tenant=tenant, brand=character.brand, asset_ids=asset_ids)
    with transaction.atomic():
        if name is not None:
            character.name = _name(name)
        if description is not None:
            character.description = description
        character.save(update_fields=["name", "description"])
        if assets is not None:
            character.images.all().delete()
            CharacterImage.objects.bulk_create([
                CharacterImage(character=character, asset=asset, index=index)
                for index, asset in enumerate(assets)])
    return character


def character_delete(*, character: Character) -> None:
    character.delete()  # its assets stay


PRESET_FIELDS = ("prompt_suffix", "model", "image_size", "aspect_ratio", "output_format")


def _preset_defaults(fields: dict) -> dict:
    """Check a preset's defaults the way a generation would; empty means "no default"."""
    clean = {key: (fields.get(key) or "").strip() for key in PRESET_FIELDS if key in fields}
    model = clean.get("model")
    if model and model not in catalog.MODELS:
        raise DomainError(f"Unknown model '{model}'. Available: {', '.join(catalog.MODELS)}.",
                          code="unknown_model", param="model")
    if clean.get("image_size"):
        clean["image_size"] = catalog.normalize_tier(clean["image_size"])
        tiers = {tier for spec in catalog.MODELS.values() for tier in spec.tiers} \
            if not model else set(catalog.MODELS[model].tiers)
        if clean["image_size"] not in tiers:
            raise DomainError(f"Unsupported image_size '{clean['image_size']}'.",
                              code="unsupported_image_size", param="image_size")
    if clean.get("aspect_ratio") and clean["aspect_ratio"] not in catalog.ASPECT_RATIOS:
        raise DomainError(f"Unsupported aspect_ratio '{clean['aspect_ratio']}'.",
                          code="unsupported_aspect_ratio", param="aspect_ratio")
    if clean.get("output_format"):
        clean["output_format"], _ = validate_output_format(clean["output_format"], None)
    return clean


def style_preset_create(*, brand: Brand, name: str, **fields) -> StylePreset:
    return StylePreset.objects.create(organization_id=brand.organization_id, brand=brand,
                                      name=_name(name), **_preset_defaults(fields))


def style_preset_update(*, preset: StylePreset, name: str | None = None,
                        **fields) -> StylePreset:
    if name is not None:
        preset.name = _name(name)
    for key, value in _preset_defaults(fields).items():
        setattr(preset, key, value)
    preset.save()
    return preset


def style_preset_delete(*, preset: StylePreset) -> None:
    preset.delete()
