"""A fake Google OAuth token endpoint for service-account credentials (the `token_uri` in a
service-account JSON). It checks what google-auth sends — a JWT-bearer grant whose assertion is
signed by the service account's private key, issued by its client_email, for this audience —
and answers with an access token.

    with running_fake_token_server(access_token=fake_gemini.api_key) as tokens:
        info = service_account_info(tokens.token_uri)   # a fresh RSA key, written like Google's
"""

import contextlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import parse_qs

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from google.auth import jwt

from tests.fakes.asgi_server import read_body, send_response, serving

GRANT_TYPE = "urn:ietf:params:oauth:grant-type:jwt-bearer"
# google-auth always addresses the assertion to Google's token endpoint, whatever `token_uri`
# the request is posted to; Google checks exactly this audience.
AUDIENCE = "https://oauth2.googleapis.com/token"


class FakeTokenServer:
    def __init__(self, access_token: str, public_keys: dict[str, str], expires_in: int = 3600):
        self.access_token = access_token
        self.public_keys = public_keys  # client_email -> PEM public key
        self.expires_in = expires_in
        self.token_uri = ""
        self.issued = 0
        self.refused = 0

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return
        form = parse_qs((await read_body(receive)).decode())
        assertion = (form.get("assertion") or [""])[0]
        try:
            if (form.get("grant_type") or [""])[0] != GRANT_TYPE:
                raise ValueError("unsupported grant_type")
            unverified = jwt.decode(assertion, verify=False)
            key = self.public_keys[unverified["iss"]]
            claims = jwt.decode(assertion, certs=key, audience=AUDIENCE)
            if "cloud-platform" not in claims.get("scope", ""):
                raise ValueError("scope missing")
        except (ValueError, KeyError) as exc:
            self.refused += 1
            await send_response(send, 400, json.dumps({
                "error": "invalid_grant", "error_description": f"Invalid JWT: {exc}"}).encode())
            return
        self.issued += 1
        await send_response(send, 200, json.dumps({
            "access_token": self.access_token, "expires_in": self.expires_in,
            "token_type": "Bearer"}).encode())


@dataclass
class RunningTokenServer:
    app: FakeTokenServer
    token_uri: str

    def service_account_info(self, email: str = "atelier@demo-project.iam.gserviceaccount.com",
                             project: str = "demo-project") -> dict:
        """A service-account JSON (as Google issues it) with a fresh key this server trusts."""
        private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        pem = private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption()).decode()
        self.app.public_keys[email] = private.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()
        return {"type": "service_account", "project_id": project, "private_key_id": "k1",
                "private_key": pem, "client_email": email, "client_id": "1",
                "token_uri": self.token_uri}


@contextlib.contextmanager
def running_fake_token_server(access_token: str, expires_in: int = 3600) -> Iterator[RunningTokenServer]:
    app = FakeTokenServer(access_token, {}, expires_in)
    with serving(app) as base_url:
        app.token_uri = f"{base_url}/token"
        yield RunningTokenServer(app, app.token_uri)
