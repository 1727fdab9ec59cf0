from django.urls import path

from generation.assets import api

_brand = "brands/<uuid:brand_id>"

urlpatterns = [
    path("brands", api.BrandList.as_view(), name="brands"),
    path(f"{_brand}/assets", api.AssetListCreate.as_view(), name="brand-assets"),
    path(f"{_brand}/assets/<uuid:asset_id>", api.AssetDetail.as_view(), name="brand-asset"),
    path(f"{_brand}/characters", api.CharacterListCreate.as_view(), name="characters"),
    path(f"{_brand}/characters/<uuid:character_id>", api.CharacterDetail.as_view(),
         name="character"),
    path(f"{_brand}/style-presets", api.StylePresetListCreate.as_view(), name="style-presets"),
    path(f"{_brand}/style-presets/<uuid:preset_id>", api.StylePresetDetail.as_view(),
         name="style-preset"),
]
