"""Generation options that build on brand assets, resolved into what `jobs_submit` takes.

- `reference_images` items: a base64 string, `{"asset": id}` (a brand asset), or `{"url": ...}`
  (fetched here, through the SSRF guard, with a size cap and a timeout; the type is sniffed from
  the bytes). Resolution runs in the request, before any transaction is opened.
- `character`: its images become references, after any explicit ones; all count against the
  model's maximum and each is priced as a reference image.
- `style_preset`: its prompt suffix is appended; its defaults fill the fields the request left
  out (explicit fields win).
- `negative_prompt`: Gemini has no such field, so it is written into the prompt as an
  instruction to avoid.
"""

import uuid
from dataclasses import dataclass, field
from urllib.parse import urljoin

import httpx
from django.conf import settings

from accounts.tenancy import Tenant
from config.errors import DomainError
from config.netguard import url_pin
from generation import catalog
from generation.assets.selectors import asset_for, character_for, style_preset_for
from generation.imaging import DecodedImage, ImageTooLarge, decode_image
from generation.uploads import decode_base64_image

MAX_REDIRECTS = 3
PRESET_DEFAULTS = ("model", "image_size", "aspect_ratio", "output_format")


@dataclass
class ResolvedOptions:
    prompt: str
    fields: dict  # model, image_size, aspect_ratio, output_format after preset defaults
    references: list[DecodedImage] = field(default_factory=list)


def _read(field_file) -> bytes:
    with field_file.open("rb") as handle:
        return handle.read()


def _asset_image(asset) -> DecodedImage:
    return DecodedImage(data=_read(asset.file), mime_type=asset.mime_type, width=asset.width,
                        height=asset.height)


class ReferenceUrlFailed(DomainError):
    code = "reference_url_failed"


def reference_url_fetch(url, *, param: str) -> DecodedImage:
    """GET an image from a public URL. Each hop (redirects included) is checked by
    `config.netguard` and the connection pinned to the checked address. Network I/O: call it
    outside any transaction."""
    if not isinstance(url, str):
        raise DomainError(f"{param} must be a string.", code="invalid_field", param=param)
    limit = settings.MAX_IMAGE_UPLOAD_BYTES
    try:
        for _ in range(MAX_REDIRECTS + 1):
            target = url_pin(url, param=param)
            with httpx.Client(timeout=settings.REFERENCE_URL_TIMEOUT_SECONDS,
                              follow_redirects=False, trust_env=False) as client, \
                    client.stream("GET", target.url, headers={**target.headers,
                                                              "accept": "image/*"},
                                  extensions=target.extensions) as response:
                if response.is_redirect and "location" in response.headers:
                    url = urljoin(url, response.headers["location"])
                    continue
                if response.status_code != 200:
                    raise ReferenceUrlFailed(f"{param}: the URL answered HTTP "
                                             f"{response.status_code}.", param=param)
                declared = response.headers.get("content-length")
                if declared and declared.isdigit() and int(declared) > limit:
                    raise ImageTooLarge(f"{param} is {declared} bytes; the limit is {limit} "
                                        "bytes per image.", param=param)
                data = bytearray()
                for chunk in response.iter_bytes():
                    data += chunk
                    if len(data) > limit:
                        raise ImageTooLarge(f"{param} is larger than {limit} bytes.",
                                            param=param)
            return decode_image(bytes(data), param=param)
    except httpx.HTTPError as failure:
        raise ReferenceUrlFailed(f"{param}: the URL could not be fetched "
                                 f"({type(failure).__name__}).", param=param) from None
    raise ReferenceUrlFailed(f"{param}: more than {MAX_REDIRECTS} redirects.", param=param)


def reference_resolve(*, tenant: Tenant, item, param: str) -> DecodedImage:
    if isinstance(item, str):
        return decode_base64_image(item, param=param)
    if isinstance(item, dict) and len(item) == 1 and "asset" in item:
        return _asset_image(asset_for(tenant=tenant, asset_id=_uuid(item["asset"], param=param),
                                      param=param))
    if isinstance(item, dict) and len(item) == 1 and "url" in item:
        return reference_url_fetch(item["url"], param=param)
    raise DomainError(f"{param} must be base64 image data, {{\"asset\": id}} or {{\"url\": ...}}.",
                      code="invalid_field", param=param)


def _uuid(value, *, param: str) -> str:
    try:
        return str(uuid.UUID(str(value)))
    except ValueError:
        raise DomainError(f"{param} is not a valid id.", code="invalid_field",
                          param=param) from None


def explicit_fields(raw) -> set[str]:
    """The fields a client actually sent (a preset's defaults fill only the others)."""
    return {key for key in PRESET_DEFAULTS if raw.get(key) not in (None, "")}


def generation_options_resolve(*, tenant: Tenant, data: dict, explicit: set[str],
                               references: list[DecodedImage] = (),
                               resolve_references: bool = True,
                               presets: dict | None = None) -> ResolvedOptions:
    """Apply style preset, negative prompt, character and reference items of one validated
    request. `explicit` names the fields the client actually sent (they beat preset defaults);
    `references` are images already decoded (multipart uploads), kept first; `presets` caches
    style presets by id across the items of a batch."""
    prompt = data["prompt"]
    fields = {key: data.get(key) for key in PRESET_DEFAULTS}
    if data.get("style_preset"):
        presets = {} if presets is None else presets
        if data["style_preset"] not in presets:
            presets[data["style_preset"]] = style_preset_for(tenant=tenant,
                                                             preset_id=data["style_preset"])
        preset = presets[data["style_preset"]]
        if preset.prompt_suffix:
            prompt = f"{prompt.rstrip()}\n\n{preset.prompt_suffix}"
        for key in PRESET_DEFAULTS:
            if key not in explicit and getattr(preset, key):
                fields[key] = getattr(preset, key)
    if data.get("negative_prompt"):
        prompt = f"{prompt.rstrip()}\n\nAvoid: {data['negative_prompt'].strip()}"
    resolved = ResolvedOptions(prompt=prompt, fields=fields, references=list(references))
    if not resolve_references:
        return resolved
    items = data.get("reference_images") or []
    character = character_for(tenant=tenant, character_id=data["character"]) \
        if data.get("character") else None
    character_images = [image.asset for image in character.images.all()] if character else []
    spec = catalog.MODELS.get(fields["model"])
    total = len(resolved.references) + len(items) + len(character_images)
    if spec is not None and total > spec.max_reference_images:
        # Refused before any URL is fetched.
        raise DomainError(f"{fields['model']} takes at most {spec.max_reference_images} input "
                          f"images; got {total} (character images included).",
                          code="too_many_images", param="reference_images")
    for index, item in enumerate(items):
        resolved.references.append(reference_resolve(
            tenant=tenant, item=item, param=f"reference_images[{len(references) + index}]"))
    resolved.references += [_asset_image(asset) for asset in character_images]
    return resolved
