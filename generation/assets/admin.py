from django.contrib import admin

from generation.assets.models import BrandAsset, Character, CharacterImage, StylePreset


@admin.register(BrandAsset)
class BrandAssetAdmin(admin.ModelAdmin):
    list_display = ("name", "brand", "organization", "mime_type", "width", "height", "created_at")
    search_fields = ("name", "brand__name", "organization__name")
    readonly_fields = ("organization", "brand", "file", "mime_type", "width", "height",
                       "size_bytes", "sha256")


class CharacterImageInline(admin.TabularInline):
    model = CharacterImage
    extra = 0
    readonly_fields = ("asset", "index")


@admin.register(Character)
class CharacterAdmin(admin.ModelAdmin):
    list_display = ("name", "brand", "organization", "created_at")
    search_fields = ("name", "brand__name")
    readonly_fields = ("organization", "brand")
    inlines = [CharacterImageInline]


@admin.register(StylePreset)
class StylePresetAdmin(admin.ModelAdmin):
    list_display = ("name", "brand", "organization", "model", "aspect_ratio", "updated_at")
    search_fields = ("name", "brand__name")
    readonly_fields = ("organization", "brand")
