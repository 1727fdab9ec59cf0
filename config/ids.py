"""Identifier checks shared by views and services that take ids from query strings and forms."""

import uuid


def is_uuid(value) -> bool:
    """True when `value` reads as a UUID, so a malformed id can answer 'not found' instead of
    reaching the database as a query error."""
    try:
        uuid.UUID(str(value))
    except (ValueError, TypeError):
        return False
    return True
