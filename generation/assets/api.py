"""`/api/v1/brands` and each brand's assets, characters and style presets. Scope `read` lists
and reads, scope `admin` writes; a brand the caller cannot see (another organization's, or not
the brand a key is bound to) is 404, and so is everything in it."""

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.idempotency.decorators import IDEMPOTENCY_HEADER, idempotent
from accounts.models import Scope
from accounts.tenancy import tenant_of
from config.errors import DomainError
from generation.assets import selectors, services
from generation.schema import ERRORS
from generation.uploads import decode_base64_image, decode_upload

TAGS = ["brand assets"]


def brand_data(brand) -> dict:
    return {"id": str(brand.pk), "object": "brand", "name": brand.name, "slug": brand.slug,
            "created_at": brand.created_at.isoformat()}


def asset_data(asset) -> dict:
    return {"id": str(asset.pk), "object": "brand_asset", "brand": str(asset.brand_id),
            "name": asset.name, "mime_type": asset.mime_type, "width": asset.width,
            "height": asset.height, "size_bytes": asset.size_bytes, "sha256": asset.sha256,
            "created_at": asset.created_at.isoformat()}


def character_data(character) -> dict:
    return {"id": str(character.pk), "object": "character", "brand": str(character.brand_id),
            "name": character.name, "description": character.description,
            "assets": [str(image.asset_id) for image in character.images.all()],
            "created_at": character.created_at.isoformat()}


def style_preset_data(preset) -> dict:
    return {"id": str(preset.pk), "object": "style_preset", "brand": str(preset.brand_id),
            "name": preset.name, "prompt_suffix": preset.prompt_suffix,
            "model": preset.model or None, "image_size": preset.image_size or None,
            "aspect_ratio": preset.aspect_ratio or None,
            "output_format": preset.output_format or None,
            "created_at": preset.created_at.isoformat(),
            "updated_at": preset.updated_at.isoformat()}


def _listing(items, render) -> dict:
    return {"object": "list", "data": [render(item) for item in items]}


def _brand(request, brand_id, scope: str):
    tenant = tenant_of(request)
    tenant.require(scope)
    return tenant, selectors.brand_visible(tenant=tenant, brand_id=brand_id)


_Any = inline_serializer("BrandAssetObject", {"id": serializers.UUIDField(),
                                              "object": serializers.CharField()})


class BrandList(APIView):
    @extend_schema(responses={200: _Any, **ERRORS}, tags=TAGS, operation_id="brands_list")
    def get(self, request):
        tenant = tenant_of(request)
        tenant.require(Scope.READ)
        return Response(_listing(selectors.brands_visible(tenant=tenant), brand_data))


class AssetListCreate(APIView):
    @extend_schema(responses={200: _Any, **ERRORS}, tags=TAGS, operation_id="brand_assets_list")
    def get(self, request, brand_id):
        _, brand = _brand(request, brand_id, Scope.READ)
        return Response(_listing(selectors.assets_of(brand=brand), asset_data))

    @extend_schema(request={"multipart/form-data": inline_serializer("AssetUpload", {
                       "name": serializers.CharField(), "file": serializers.FileField()}),
                            "application/json": inline_serializer("AssetJson", {
                       "name": serializers.CharField(),
                       "image": serializers.CharField(help_text="base64")})},
                   responses={201: _Any, **ERRORS}, parameters=[IDEMPOTENCY_HEADER], tags=TAGS)
    @idempotent
    def post(self, request, brand_id):
        _, brand = _brand(request, brand_id, Scope.ADMIN)
        upload = request.FILES.get("file")
        if upload is not None:
            image = decode_upload(upload, param="file")
        elif request.data.get("image"):
            image = decode_base64_image(request.data["image"], param="image")
        else:
            raise DomainError("Send the image as multipart field 'file' or base64 'image'.",
                              code="missing_field", param="file")
        name = request.data.get("name") or getattr(upload, "name", "")
        asset = services.brand_asset_create(brand=brand, name=name, image=image)
        return Response(asset_data(asset), status=status.HTTP_201_CREATED)


class AssetDetail(APIView):
    @extend_schema(responses={200: _Any, **ERRORS}, tags=TAGS)
    def get(self, request, brand_id, asset_id):
        tenant, brand = _brand(request, brand_id, Scope.READ)
        return Response(asset_data(selectors.asset_for(tenant=tenant, asset_id=asset_id,
                                                       brand=brand)))

    @extend_schema(request=inline_serializer("AssetRename", {"name": serializers.CharField()}),
                   responses={200: _Any, **ERRORS}, tags=TAGS)
    def patch(self, request, brand_id, asset_id):
        tenant, brand = _brand(request, brand_id, Scope.ADMIN)
        asset = selectors.asset_for(tenant=tenant, asset_id=asset_id, brand=brand)
        return Response(asset_data(services.brand_asset_rename(asset=asset,
                                                               name=request.data.get("name"))))

    @extend_schema(responses={204: None, **ERRORS}, tags=TAGS)
    def delete(self, request, brand_id, asset_id):
        tenant, brand = _brand(request, brand_id, Scope.ADMIN)
        services.brand_asset_delete(
            asset=selectors.asset_for(tenant=tenant, asset_id=asset_id, brand=brand))
        return Response(status=status.HTTP_204_NO_CONTENT)


class CharacterIn(serializers.Serializer):
    name = serializers.CharField(max_length=200)
    description = serializers.CharField(required=False, allow_blank=True, default="")
    assets = serializers.ListField(child=serializers.UUIDField(),
                                   help_text="1 to 5 asset ids of this brand, in order.")


class CharacterListCreate(APIView):
    @extend_schema(responses={200: _Any, **ERRORS}, tags=TAGS, operation_id="characters_list")
    def get(self, request, brand_id):
        _, brand = _brand(request, brand_id, Scope.READ)
        return Response(_listing(selectors.characters_of(brand=brand), character_data))

    @extend_schema(request=CharacterIn, responses={201: _Any, **ERRORS},
                   parameters=[IDEMPOTENCY_HEADER], tags=TAGS)
    @idempotent
    def post(self, request, brand_id):
        tenant, brand = _brand(request, brand_id, Scope.ADMIN)
        given = CharacterIn(data=request.data)
        given.is_valid(raise_exception=True)
        character = services.character_create(
            tenant=tenant, brand=brand, name=given.validated_data["name"],
            description=given.validated_data["description"],
            asset_ids=given.validated_data["assets"])
        return Response(character_data(character), status=status.HTTP_201_CREATED)


class CharacterDetail(APIView):
    @extend_schema(responses={200: _Any, **ERRORS}, tags=TAGS)
    def get(self, request, brand_id, character_id):
        tenant, brand = _brand(request, brand_id, Scope.READ)
        return Response(character_data(selectors.character_for(
            tenant=tenant, character_id=character_id, brand=brand)))

    @extend_schema(request=CharacterIn(partial=True), responses={200: _Any, **ERRORS}, tags=TAGS)
    def patch(self, request, brand_id, character_id):
        tenant, brand = _brand(request, brand_id, Scope.ADMIN)
        character = selectors.character_for(tenant=tenant, character_id=character_id,
                                             brand=brand)
        given = CharacterIn(data=request.data, partial=True)
        given.is_valid(raise_exception=True)
        character = services.character_update(
            tenant=tenant, character=character, name=given.validated_data.get("name"),
            description=given.validated_data.get("description"),
            asset_ids=given.validated_data.get("assets"))
        return Response(character_data(selectors.character_for(
            tenant=tenant, character_id=character.pk, brand=brand)))

    @extend_schema(responses={204: None, **ERRORS}, tags=TAGS)
    def delete(self, request, brand_id, character_id):
        tenant, brand = _brand(request, brand_id, Scope.ADMIN)
        services.character_delete(character=selectors.character_for(
            tenant=tenant, character_id=character_id, brand=brand))
        return Response(status=status.HTTP_204_NO_CONTENT)


class StylePresetIn(serializers.Serializer):
    name = serializers.CharField(max_length=200)
    prompt_suffix = serializers.CharField(required=False, allow_blank=True, max_length=2000)
    model = serializers.CharField(required=False, allow_blank=True, allow_null=True)
    image_size = serializers.CharField(required=False, allow_blank=True, allow_null=True)
    aspect_ratio = serializers.CharField(required=False, allow_blank=True, allow_null=True)
    output_format = serializers.CharField(required=False, allow_blank=True, allow_null=True)


class StylePresetListCreate(APIView):
    @extend_schema(responses={200: _Any, **ERRORS}, tags=TAGS,
                   operation_id="style_presets_list")
    def get(self, request, brand_id):
        _, brand = _brand(request, brand_id, Scope.READ)
        return Response(_listing(selectors.style_presets_of(brand=brand), style_preset_data))

    @extend_schema(request=StylePresetIn, responses={201: _Any, **ERRORS},
                   parameters=[IDEMPOTENCY_HEADER], tags=TAGS)
    @idempotent
    def post(self, request, brand_id):
        _, brand = _brand(request, brand_id, Scope.ADMIN)
        given = StylePresetIn(data=request.data)
        given.is_valid(raise_exception=True)
        preset = services.style_preset_create(brand=brand, **given.validated_data)
        return Response(style_preset_data(preset), status=status.HTTP_201_CREATED)


class StylePresetDetail(APIView):
    @extend_schema(responses={200: _Any, **ERRORS}, tags=TAGS)
    def get(self, request, brand_id, preset_id):
        tenant, brand = _brand(request, brand_id, Scope.READ)
        return Response(style_preset_data(selectors.style_preset_for(
            tenant=tenant, preset_id=preset_id, brand=brand)))

    @extend_schema(request=StylePresetIn(partial=True), responses={200: _Any, **ERRORS},
                   tags=TAGS)
    def patch(self, request, brand_id, preset_id):
        tenant, brand = _brand(request, brand_id, Scope.ADMIN)
        preset = selectors.style_preset_for(tenant=tenant, preset_id=preset_id, brand=brand)
        given = StylePresetIn(data=request.data, partial=True)
        given.is_valid(raise_exception=True)
        return Response(style_preset_data(services.style_preset_update(
            preset=preset, **given.validated_data)))

    @extend_schema(responses={204: None, **ERRORS}, tags=TAGS)
    def delete(self, request, brand_id, preset_id):
        tenant, brand = _brand(request, brand_id, Scope.ADMIN)
        services.style_preset_delete(preset=selectors.style_preset_for(
            tenant=tenant, preset_id=preset_id, brand=brand))
        return Response(status=status.HTTP_204_NO_CONTENT)
