"""The contract every upstream client keeps: one normalized request in, images or a typed error out."""

from dataclasses import dataclass, field


@dataclass(frozen=True)
class ReferenceImage:
    data: bytes
    mime_type: str


@dataclass(frozen=True)
class Turn:
    """One earlier turn of a multi-turn edit, sent back to the upstream exactly as received.

    `parts` holds the wire parts (camelCase dicts) including `thoughtSignature` values.
    """

    role: str
    parts: list[dict]


@dataclass(frozen=True)
class ImageRequest:
    model: str
    prompt: str
    tier: str
    aspect_ratio: str
    width: int
    height: int
    seed: int | None = None
    grounding: bool = False
    reference_images: tuple[ReferenceImage, ...] = ()
    history: tuple[Turn, ...] = ()


@dataclass(frozen=True)
class ProviderImage:
    data: bytes
    mime_type: str
    width: int
    height: int


@dataclass
class ProviderResult:
    images: list[ProviderImage]
    text: str = ""
    model_version: str = ""
    usage: dict = field(default_factory=dict)
    # The model turn to keep for a later multi-turn edit (parts with their thought signatures).
    model_turn: Turn | None = None
    # True when no real model produced the image; surfaces say so wherever it appears.
    is_local_render: bool = False


class ProviderError(Exception):
    """Base of the few typed errors a provider may raise. `code` is stable and customer-visible."""

    code = "upstream_error"
    retryable = False

    def __init__(self, message: str = ""):
        super().__init__(message or self.code)
        self.message = message or self.code


class RateLimited(ProviderError):
    code = "upstream_rate_limited"
    retryable = True

    def __init__(self, message: str = "", retry_after: float | None = None):
        super().__init__(message)
        self.retry_after = retry_after


class Unavailable(ProviderError):
    code = "upstream_unavailable"
    retryable = True


class UpstreamTimeout(ProviderError):
    code = "upstream_timeout"
    retryable = True


class SafetyBlocked(ProviderError):
    code = "safety_blocked"

    def __init__(self, message: str = "", reason: str = "", safety_ratings: list | None = None):
        super().__init__(message or f"blocked by the upstream safety filter ({reason})")
        self.reason = reason
        self.safety_ratings = safety_ratings or []


class NoImage(ProviderError):
    code = "no_image"


class InvalidRequest(ProviderError):
    code = "upstream_invalid_request"


class AuthenticationFailed(ProviderError):
    code = "upstream_authentication_failed"


class Provider:
    """Subclasses implement `generate`. Providers hold no database state; channels configure them."""

    name = "base"

    async def generate(self, request: ImageRequest) -> ProviderResult:  # pragma: no cover
        raise NotImplementedError
