"""A JSON parser that refuses oversized bodies with a 413 before reading them into memory."""

import io

from django.conf import settings
from rest_framework.parsers import JSONParser

from config.errors import DomainError


class BodyTooLarge(DomainError):
    status_code = 413
    code = "body_too_large"


def _too_large(limit: int) -> BodyTooLarge:
    return BodyTooLarge(f"The request body is larger than {limit} bytes.")


class CappedJSONParser(JSONParser):
    """JSONParser with a byte cap (`MAX_JSON_BODY_BYTES`): the declared length is checked first,
    and a body without one (chunked) is read at most one byte past the cap."""

    def parse(self, stream, media_type=None, parser_context=None):
        limit = settings.MAX_JSON_BODY_BYTES
        request = (parser_context or {}).get("request")
        declared = int((request.META.get("CONTENT_LENGTH") or 0) if request is not None else 0)
        if declared > limit:
            raise _too_large(limit)
        raw = stream.read(limit + 1) if stream is not None else b""
        if len(raw) > limit:
            raise _too_large(limit)
        return super().parse(io.BytesIO(raw), media_type, parser_context)
