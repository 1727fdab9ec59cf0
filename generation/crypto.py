"""Encryption at rest for channel secrets: Fernet (AES-128-CBC + HMAC-SHA256, authenticated).

The key is `CHANNEL_ENCRYPTION_KEY` (a Fernet key, or any passphrase, which is stretched), or
else derived from `SECRET_KEY`. Rotation: put the new key in `CHANNEL_ENCRYPTION_KEY`, the old
ones in `CHANNEL_ENCRYPTION_OLD_KEYS` (comma-separated), run `manage.py rotate_channel_secrets`,
then drop the old keys. Decryption tries every key; encryption always uses the newest.
"""

import base64
import hashlib

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured


def _fernet(material: str) -> Fernet:
    try:
        return Fernet(material.encode())
    except ValueError:
        # Not a Fernet key: derive one. Domain-separated so the SECRET_KEY-derived key is not
        # reused by any other use of SECRET_KEY.
        digest = hashlib.sha256(b"atelier.channel-secrets\0" + material.encode()).digest()
        return Fernet(base64.urlsafe_b64encode(digest))


def _keys() -> MultiFernet:
    primary = settings.CHANNEL_ENCRYPTION_KEY or settings.SECRET_KEY
    old = [key for key in settings.CHANNEL_ENCRYPTION_OLD_KEYS if key]
    return MultiFernet([_fernet(primary), *(_fernet(key) for key in old)])


def encrypt(plaintext: str) -> str:
    return _keys().encrypt(plaintext.encode()).decode()


def decrypt(token: str) -> str:
    try:
        return _keys().decrypt(token.encode()).decode()
    except InvalidToken:
        raise ImproperlyConfigured(
            "A channel secret cannot be decrypted: CHANNEL_ENCRYPTION_KEY (or SECRET_KEY) changed "
            "without listing the previous key in CHANNEL_ENCRYPTION_OLD_KEYS.") from None


def rotate(token: str) -> str:
    """Re-encrypt under the newest key (MultiFernet.rotate keeps the original timestamp)."""
    return _keys().rotate(token.encode()).decode()
