"""The price of a generation request before it is submitted, validated exactly as a submit."""

from dataclasses import dataclass

from billing.services import Quote, quote_generation
from config.errors import DomainError
from generation import catalog
from generation.services import validate_generation


@dataclass(frozen=True)
class RequestQuote:
    quote: Quote
    tier: str
    aspect_ratio: str
    width: int
    height: int


def generation_quote(*, organization, model: str, prompt: str, image_size: str | None,
                     aspect_ratio: str | None, grounding: bool = False,
                     reference_images: int = 0) -> RequestQuote:
    tier, ratio, (width, height) = validate_generation(
        model=model, prompt=prompt, image_size=image_size, aspect_ratio=aspect_ratio,
        grounding=grounding)
    spec = catalog.MODELS[model]
    if reference_images > spec.max_reference_images:
        raise DomainError(f"{model} takes at most {spec.max_reference_images} reference images.",
                          code="too_many_reference_images", param="reference_images")
    quote = quote_generation(model=model, tier=tier, grounding=grounding,
                             reference_images=reference_images, organization=organization)
    return RequestQuote(quote=quote, tier=tier, aspect_ratio=ratio, width=width, height=height)
