"""An upstream whose safety filter refuses every request (while `blocking`), as Gemini does with a prompt
`blockReason` or an `IMAGE_SAFETY` finish reason. It stands where the network client stands
(the provider seam), so everything of ours around it runs for real."""

from generation.providers.base import Provider, SafetyBlocked
from generation.providers.local import LocalProvider

HIGH_DANGER = [
    {"category": "HARM_CATEGORY_HARASSMENT", "probability": "LOW"},
    {"category": "HARM_CATEGORY_DANGEROUS_CONTENT", "probability": "HIGH", "blocked": True},
]


class SafetyBlockingUpstream(Provider):
    name = "fake_upstream"

    def __init__(self, reason: str = "IMAGE_SAFETY", safety_ratings: list | None = None):
        self.reason = reason
        self.safety_ratings = HIGH_DANGER if safety_ratings is None else safety_ratings
        self.calls = 0
        self.blocking = True
        self.error = None  # a ProviderError to raise instead, e.g. a non-retryable failure

    async def generate(self, request):
        self.calls += 1
        if self.error is not None:
            raise self.error
        if not self.blocking:
            return await LocalProvider().generate(request)
        raise SafetyBlocked(reason=self.reason, safety_ratings=self.safety_ratings)
