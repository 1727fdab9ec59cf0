"""Standard Webhooks signatures: `v1,<base64 HMAC-SHA256(key, f"{id}.{timestamp}.{body}")>`."""

import base64
import hashlib
import hmac
import secrets

SECRET_PREFIX = "whsec_"  # noqa: S105 - a format prefix, not a secret


def secret_generate() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def _key_bytes(secret: str) -> bytes:
    return base64.b64decode(secret.removeprefix(SECRET_PREFIX))


def signature_of(*, secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    signed = f"{message_id}.{timestamp}.".encode() + body
    digest = hmac.new(_key_bytes(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def signed_headers(*, secrets_in_use: list[str], message_id: str, timestamp: int,
                   body: bytes) -> dict[str, str]:
    """The three headers; several secrets (during a rotation) give space-separated signatures."""
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": " ".join(
            signature_of(secret=secret, message_id=message_id, timestamp=timestamp, body=body)
            for secret in secrets_in_use),
        "content-type": "application/json",
        "user-agent": "Atelier-Webhooks/1",
    }
