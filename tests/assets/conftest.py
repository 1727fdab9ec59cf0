"""Brands with bound keys, small images, and a loopback host serving reference images."""

import base64
import io

import pytest
from django.core.cache import cache
from PIL import Image
from rest_framework.test import APIClient

from accounts.models import Brand, Scope
from accounts.services import api_key_create, brand_create
from tests.fakes.image_host import start_image_host

PRO = "gemini-3-pro-image-preview"
FLASH = "gemini-2.5-flash-image"


def client_for(secret: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    return client


def png_bytes(size=(64, 48), color=(200, 40, 40), fmt="PNG") -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, color).save(buffer, format=fmt)
    return buffer.getvalue()


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


@pytest.fixture(autouse=True)
def _fresh_rate_limits():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def brand(owner) -> Brand:
    return Brand.objects.get(organization=owner.organization)


@pytest.fixture
def other_brand_key(owner, brand):
    """A key of the owner's organization bound to another brand, with every scope."""
    other = brand_create(organization=owner.organization, name="Globex")
    _, secret = api_key_create(organization=owner.organization, name="Globex key",
                               created_by=owner.user, scopes=list(Scope.values), brand=other)
    return other, client_for(secret)


@pytest.fixture
def upload_asset(owner, brand):
    def _upload(name="logo", data=None, client=None, brand_id=None):
        response = (client or owner.api).post(
            f"/api/v1/brands/{brand_id or brand.pk}/assets",
            {"name": name, "image": b64(data or png_bytes())}, format="json")
        assert response.status_code == 201, response.json()
        return response.json()

    return _upload


@pytest.fixture
def image_host(settings):
    settings.ALLOW_PRIVATE_WEBHOOK_URLS = True
    host = start_image_host()
    yield host
    host.close()
