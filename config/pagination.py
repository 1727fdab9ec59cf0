"""Opaque cursors for keyset pagination on (created_at, id), newest first."""

import base64
import binascii
import json
from datetime import datetime

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import Q

from config.errors import DomainError


def cursor_encode(created_at: datetime, pk) -> str:
    raw = json.dumps([created_at.isoformat(), str(pk)], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def cursor_decode(cursor: str) -> tuple[datetime, str]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        created_at, pk = json.loads(base64.urlsafe_b64decode(padded.encode()))
        return datetime.fromisoformat(created_at), str(pk)
    except (binascii.Error, ValueError, TypeError, UnicodeDecodeError):
        raise DomainError("This cursor is not valid.", code="invalid_cursor",
                          param="cursor") from None


def keyset_page(queryset, *, cursor: str | None, limit: int) -> tuple[list, str | None]:
    """(rows, next_cursor) of one page, newest first; next_cursor is None on the last page."""
    queryset = queryset.order_by("-created_at", "-pk")
    if cursor:
        created_at, pk = cursor_decode(cursor)
        try:
            queryset = queryset.filter(Q(created_at__lt=created_at)
                                       | Q(created_at=created_at, pk__lt=pk))
        except (DjangoValidationError, ValueError):
            raise DomainError("This cursor is not valid.", code="invalid_cursor",
                              param="cursor") from None
    rows = list(queryset[: limit + 1])
    if len(rows) <= limit:
        return rows, None
    rows = rows[:limit]
    return rows, cursor_encode(rows[-1].created_at, rows[-1].pk)
