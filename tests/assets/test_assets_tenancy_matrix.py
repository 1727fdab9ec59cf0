"""Every brand-asset endpoint against every kind of caller: owner (all scopes), a key bound to
this brand, member (generate + read), viewer (signed in, read only), outsider (another
organization), a key bound to another brand (both 404), a revoked and an expired key (401)."""

from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.models import Membership, Role, Scope, User
from accounts.services import api_key_create, api_key_revoke, brand_create
from tests.assets.conftest import b64, client_for, png_bytes

ACTORS = ("owner", "brand_key", "member", "viewer", "outsider", "other_brand", "revoked",
          "expired")


@pytest.fixture
def world(owner, member, outsider):
    acme = brand_create(organization=owner.organization, name="Acme")
    globex = brand_create(organization=owner.organization, name="Globex")
    viewer_user = User.objects.create_user(email="viewer@northwind.test", password="pw viewer 1")
    Membership.objects.create(user=viewer_user, organization=owner.organization, role=Role.VIEWER)
    viewer = APIClient()
    viewer.force_login(viewer_user)
    secrets = {}
    for name, brand in (("brand_key", acme), ("other_brand", globex)):
        _, secrets[name] = api_key_create(organization=owner.organization, name=name,
                                          scopes=list(Scope.values), brand=brand)
    revoked, secrets["revoked"] = api_key_create(organization=owner.organization, name="old",
                                                 scopes=list(Scope.values))
    api_key_revoke(api_key=revoked)
    _, secrets["expired"] = api_key_create(organization=owner.organization, name="expired",
                                           scopes=list(Scope.values),
                                           expires_at=timezone.now() - timedelta(minutes=1))
    clients = {"owner": owner.api, "member": member.api, "viewer": viewer,
               "outsider": outsider.api, **{name: client_for(s) for name, s in secrets.items()}}
    base = f"/api/v1/brands/{acme.pk}"

    def asset():
        return owner.api.post(f"{base}/assets", {"name": "logo", "image": b64(png_bytes())},
                              format="json").json()["id"]

    def character():
        return owner.api.post(f"{base}/characters", {"name": "Mia", "assets": [asset()]},
                              format="json").json()["id"]

    def preset():
        return owner.api.post(f"{base}/style-presets", {"name": "Noir"},
                              format="json").json()["id"]

    return {"clients": clients, "base": base,
            "targets": {"asset": asset, "character": character, "preset": preset}}


def _expect(allowed: int, *, write: bool = False, brand_scoped: bool = True) -> dict:
    expected = dict.fromkeys(ACTORS, allowed)
    expected.update(revoked=401, expired=401)
    if write:
        expected.update(member=403, viewer=403)
    if brand_scoped:
        expected.update(outsider=404, other_brand=404)
    return expected


ASSET_BODY = {"name": "x", "image": b64(png_bytes())}
MATRIX = [("get", "/api/v1/brands", None, None, _expect(200, brand_scoped=False))]
for kind, path, body, patch in (
        ("asset", "assets", ASSET_BODY, {"name": "renamed"}),
        ("character", "characters", "new character", {"name": "renamed"}),
        ("preset", "style-presets", {"name": "Poster", "prompt_suffix": "flat"},
         {"prompt_suffix": "bold"})):
    MATRIX += [
        ("get", f"{{base}}/{path}", None, None, _expect(200)),
        ("get", f"{{base}}/{path}/{{}}", kind, None, _expect(200)),
        ("patch", f"{{base}}/{path}/{{}}", kind, patch, _expect(200, write=True)),
        ("delete", f"{{base}}/{path}/{{}}", kind, None, _expect(204, write=True)),
    ]
    if body is not None:
        MATRIX.append(("post", f"{{base}}/{path}", None, body, _expect(201, write=True)))


@pytest.mark.parametrize(("method", "path", "target", "body", "expected"), MATRIX,
                         ids=[f"{m.upper()} {p}" for m, p, *_ in MATRIX])
def test_endpoint_answers_each_caller_as_expected(world, method, path, target, body, expected):
    for actor in ACTORS:
        url = path.replace("{base}", world["base"])
        if target:
            url = url.format(world["targets"][target]())
        payload = {"name": "Mia", "assets": [world["targets"]["asset"]()]} \
            if body == "new character" else body
        response = getattr(world["clients"][actor], method)(url, payload, format="json")
        assert response.status_code == expected[actor], (actor, response.content[:300])
