"""Brand assets CRUD: reference images, characters, style presets and the brand list. Admin
scope writes, read scope lists; other organizations and keys bound to another brand see 404."""

import io
from pathlib import Path

from accounts.models import Brand
from generation.assets.models import BrandAsset, Character, StylePreset
from tests.assets.conftest import PRO, b64, png_bytes


def test_brand_list_shows_the_callers_visible_brands(owner, brand, outsider, other_brand_key):
    other, bound = other_brand_key
    names = [item["name"] for item in owner.api.get("/api/v1/brands").json()["data"]]
    assert sorted(names) == sorted([brand.name, "Globex"])
    assert [item["id"] for item in bound.get("/api/v1/brands").json()["data"]] == [str(other.pk)]
    outsiders = outsider.api.get("/api/v1/brands").json()["data"]
    assert str(brand.pk) not in {item["id"] for item in outsiders}


def test_upload_list_rename_and_delete_an_asset(owner, brand,
                                                django_capture_on_commit_callbacks):
    photo = png_bytes((120, 80))
    upload = io.BytesIO(photo)
    upload.name = "photo.gif"  # the name and declared type are not trusted
    created = owner.api.post(f"/api/v1/brands/{brand.pk}/assets", {"name": "Hero", "file": upload},
                             format="multipart")
    assert created.status_code == 201, created.json()
    asset = created.json()
    assert (asset["name"], asset["mime_type"], asset["width"], asset["height"]) == (
        "Hero", "image/png", 120, 80)
    stored = BrandAsset.objects.get()
    assert stored.file.read() == photo

    listed = owner.api.get(f"/api/v1/brands/{brand.pk}/assets").json()["data"]
    assert [item["id"] for item in listed] == [asset["id"]]
    renamed = owner.api.patch(f"/api/v1/brands/{brand.pk}/assets/{asset['id']}",
                              {"name": "Hero shot"}, format="json")
    assert renamed.json()["name"] == "Hero shot"

    path = Path(stored.file.path)
    with django_capture_on_commit_callbacks(execute=True):
        deleted = owner.api.delete(f"/api/v1/brands/{brand.pk}/assets/{asset['id']}")
    assert deleted.status_code == 204
    assert not BrandAsset.objects.exists()
    assert not path.exists()  # the file goes once the delete has committed


def test_bad_images_are_refused_and_leave_nothing(owner, brand, settings):
    url = f"/api/v1/brands/{brand.pk}/assets"
    not_an_image = owner.api.post(url, {"name": "x", "image": b64(b"GIF89a not really")},
                                  format="json")
    assert not_an_image.status_code == 400
    assert not_an_image.json()["error"]["code"] in ("invalid_image", "unsupported_image_type")
    settings.MAX_IMAGE_UPLOAD_BYTES = 1024
    too_big = owner.api.post(url, {"name": "x", "image": b64(png_bytes((400, 400), fmt="BMP"))},
                             format="json")
    assert too_big.status_code == 413
    missing = owner.api.post(url, {"name": "x"}, format="json")
    assert missing.json()["error"]["code"] == "missing_field"
    assert not BrandAsset.objects.exists()


def test_scopes_read_lists_admin_writes(owner, member, brand, upload_asset):
    asset = upload_asset()
    assert member.api.get(f"/api/v1/brands/{brand.pk}/assets").status_code == 200
    refused = member.api.post(f"/api/v1/brands/{brand.pk}/assets",
                              {"name": "x", "image": b64(png_bytes())}, format="json")
    assert (refused.status_code, refused.json()["error"]["code"]) == (403, "insufficient_scope")
    assert member.api.delete(
        f"/api/v1/brands/{brand.pk}/assets/{asset['id']}").status_code == 403
    assert member.api.post(f"/api/v1/brands/{brand.pk}/style-presets", {"name": "x"},
                           format="json").status_code == 403


def test_foreign_brands_and_ids_are_404(owner, outsider, brand, other_brand_key, upload_asset):
    asset = upload_asset()
    character = owner.api.post(f"/api/v1/brands/{brand.pk}/characters",
                               {"name": "Mia", "assets": [asset["id"]]}, format="json").json()
    preset = owner.api.post(f"/api/v1/brands/{brand.pk}/style-presets",
                            {"name": "Noir", "prompt_suffix": "black and white"},
                            format="json").json()
    other, bound = other_brand_key
    for client in (outsider.api, bound):
        for path in ("assets", "characters", "style-presets"):
            response = client.get(f"/api/v1/brands/{brand.pk}/{path}")
            assert response.status_code == 404, (path, response.json())
        for path, item in (("assets", asset), ("characters", character),
                           ("style-presets", preset)):
            assert client.get(f"/api/v1/brands/{brand.pk}/{path}/{item['id']}").status_code == 404
            assert client.delete(f"/api/v1/brands/{brand.pk}/{path}/{item['id']}").status_code \
                == 404
        assert client.post(f"/api/v1/brands/{brand.pk}/assets",
                           {"name": "x", "image": b64(png_bytes())},
                           format="json").status_code == 404
    # An id of this brand through another brand's path is 404 too.
    assert owner.api.get(f"/api/v1/brands/{other.pk}/assets/{asset['id']}").status_code == 404
    assert BrandAsset.objects.count() == 1 and Character.objects.count() == 1
    assert StylePreset.objects.count() == 1


def test_characters_hold_one_to_five_assets_of_the_brand(owner, brand, other_brand_key,
                                                         upload_asset):
    assets = [upload_asset(name=f"face {i}", data=png_bytes(color=(i * 40, 0, 0)))
              for i in range(6)]
    url = f"/api/v1/brands/{brand.pk}/characters"
    too_many = owner.api.post(url, {"name": "Mia", "assets": [a["id"] for a in assets]},
                              format="json")
    assert (too_many.status_code, too_many.json()["error"]["param"]) == (400, "assets")
    none = owner.api.post(url, {"name": "Mia", "assets": []}, format="json")
    assert none.status_code == 400
    other, bound = other_brand_key
    foreign = upload_asset(client=bound, brand_id=other.pk)
    mixed = owner.api.post(url, {"name": "Mia", "assets": [assets[0]["id"], foreign["id"]]},
                           format="json")
    assert (mixed.status_code, mixed.json()["error"]["param"]) == (404, "assets[1]")

    created = owner.api.post(url, {"name": "Mia", "assets": [a["id"] for a in assets[:3]]},
                             format="json")
    assert created.status_code == 201, created.json()
    character = created.json()
    assert character["assets"] == [a["id"] for a in assets[:3]]
    updated = owner.api.patch(f"{url}/{character['id']}",
                              {"assets": [assets[4]["id"], assets[3]["id"]]}, format="json")
    assert updated.json()["assets"] == [assets[4]["id"], assets[3]["id"]]
    # An asset a character uses cannot be deleted until the character lets go of it.
    in_use = owner.api.delete(f"/api/v1/brands/{brand.pk}/assets/{assets[4]['id']}")
    assert (in_use.status_code, in_use.json()["error"]["code"]) == (409, "asset_in_use")
    assert owner.api.delete(f"{url}/{character['id']}").status_code == 204
    assert owner.api.delete(
        f"/api/v1/brands/{brand.pk}/assets/{assets[4]['id']}").status_code == 204


def test_style_presets_validate_their_defaults(owner, brand):
    url = f"/api/v1/brands/{brand.pk}/style-presets"
    bad = owner.api.post(url, {"name": "x", "aspect_ratio": "7:5"}, format="json")
    assert bad.json()["error"]["code"] == "unsupported_aspect_ratio"
    bad = owner.api.post(url, {"name": "x", "output_format": "gif"}, format="json")
    assert bad.json()["error"]["code"] == "unsupported_output_format"
    created = owner.api.post(url, {"name": "Poster", "prompt_suffix": "in flat vector style",
                                   "model": PRO, "image_size": "2k", "aspect_ratio": "16:9",
                                   "output_format": "jpg"}, format="json")
    assert created.status_code == 201, created.json()
    preset = created.json()
    assert (preset["image_size"], preset["output_format"]) == ("2K", "jpeg")
    changed = owner.api.patch(f"{url}/{preset['id']}", {"aspect_ratio": "4:3"}, format="json")
    assert (changed.json()["aspect_ratio"], changed.json()["model"]) == ("4:3", PRO)
    assert [p["name"] for p in owner.api.get(url).json()["data"]] == ["Poster"]


def test_idempotency_key_replays_an_asset_upload(owner, brand):
    url = f"/api/v1/brands/{brand.pk}/assets"
    body = {"name": "logo", "image": b64(png_bytes())}
    first = owner.api.post(url, body, format="json", HTTP_IDEMPOTENCY_KEY="upload-1")
    again = owner.api.post(url, body, format="json", HTTP_IDEMPOTENCY_KEY="upload-1")
    assert first.status_code == again.status_code == 201
    assert again["Idempotent-Replayed"] == "true"
    assert first.json()["id"] == again.json()["id"]
    assert BrandAsset.objects.count() == 1


def test_archived_brands_are_gone(owner, brand):
    from django.utils import timezone

    Brand.objects.filter(pk=brand.pk).update(archived_at=timezone.now())
    assert owner.api.get(f"/api/v1/brands/{brand.pk}/assets").status_code == 404
