"""Routes of the compatible surfaces. /v1/models is shared: OpenAI's SDK sends a Bearer token,
Google's sends x-goog-api-key (or ?key=), and each gets its own listing and error shape."""

from django.urls import path, register_converter
from django.views.decorators.csrf import csrf_exempt

from generation.compat import gemini, openai


class GeminiVersion:
    regex = "v1|v1beta|v1alpha"

    def to_python(self, value):
        return value

    def to_url(self, value):
        return value


class ModelId:
    """A model id in a `{model}:method` segment: everything up to the colon."""

    regex = "[A-Za-z0-9._-]+"

    def to_python(self, value):
        return value

    def to_url(self, value):
        return value


register_converter(GeminiVersion, "gemini_version")
register_converter(ModelId, "model_id")


def _speaks_openai(request, version: str) -> bool:
    return (version == "v1" and request.META.get("HTTP_AUTHORIZATION", "")[:7].lower() == "bearer "
            and not request.META.get("HTTP_X_GOOG_API_KEY") and "key" not in request.GET)


@csrf_exempt
async def models(request, version: str, model: str | None = None):
    if request.method != "GET":
        surface = openai if _speaks_openai(request, version) else gemini
        return surface.render_error(_method_not_allowed(request))
    if _speaks_openai(request, version):
        return await openai.models(request, model)
    return await gemini.models(request, model)


def _method_not_allowed(request):
    from config.errors import DomainError

    return DomainError(f"{request.method} is not allowed here.", code="method_not_allowed",
                       status_code=405)


urlpatterns = [
    path("v1/images/generations", openai.generations, name="openai-generations"),
    path("v1/images/edits", openai.edits, name="openai-edits"),
    path("<gemini_version:version>/models", models, name="compat-models"),
    path("<gemini_version:version>/models/<model_id:model>:generateContent",
         gemini.generate_content, name="gemini-generate-content"),
    path("<gemini_version:version>/models/<model_id:model>:streamGenerateContent",
         gemini.stream_generate_content, name="gemini-stream-generate-content"),
    path("<gemini_version:version>/models/<model_id:model>:<str:method>",
         gemini.unsupported_method, name="gemini-unsupported-method"),
    path("<gemini_version:version>/models/<model_id:model>", models, name="compat-model"),
]
