"""Per-brand material for generations: reference images, characters (named sets of up to five
person references) and style presets (a prompt suffix plus defaults)."""

import uuid

from django.db import models

MAX_CHARACTER_IMAGES = 5


class BrandAsset(models.Model):
    """A reference image saved for a brand, decoded and checked on upload like any reference."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    organization = models.ForeignKey("accounts.Organization", on_delete=models.CASCADE,
                                     related_name="+")
    brand = models.ForeignKey("accounts.Brand", on_delete=models.CASCADE, related_name="assets")
    name = models.CharField(max_length=200)
    file = models.FileField(upload_to="assets/%Y/%m/")
    mime_type = models.CharField(max_length=40)
    width = models.PositiveIntegerField()
    height = models.PositiveIntegerField()
    size_bytes = models.PositiveIntegerField()
    sha256 = models.CharField(max_length=64)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["brand", "-created_at"], name="asset_brand_recent")]

    def __str__(self):
        return self.name


class Character(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    organization = models.ForeignKey("accounts.Organization", on_delete=models.CASCADE,
                                     related_name="+")
    brand = models.ForeignKey("accounts.Brand", on_delete=models.CASCADE,
                              related_name="characters")
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self):
        return self.name


class CharacterImage(models.Model):
    """One of a character's images, in order. An asset in use cannot be deleted (PROTECT)."""

    character = models.ForeignKey(Character, on_delete=models.CASCADE, related_name="images")
    asset = models.ForeignKey(BrandAsset, on_delete=models.PROTECT, related_name="+")
    index = models.PositiveSmallIntegerField()

    class Meta:
        ordering = ["index"]
        constraints = [models.UniqueConstraint(fields=["character", "index"],
                                               name="character_image_index")]

    def __str__(self):
        return f"{self.character_id}[{self.index}]"


class StylePreset(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    organization = models.ForeignKey("accounts.Organization", on_delete=models.CASCADE,
                                     related_name="+")
    brand = models.ForeignKey("accounts.Brand", on_delete=models.CASCADE,
                              related_name="style_presets")
    name = models.CharField(max_length=200)
    prompt_suffix = models.TextField(blank=True)
    model = models.CharField(max_length=80, blank=True)
    image_size = models.CharField(max_length=8, blank=True)
    aspect_ratio = models.CharField(max_length=8, blank=True)
    output_format = models.CharField(max_length=8, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self):
        return self.name
