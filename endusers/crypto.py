"""Encryption at rest for secrets the server must read back (signing keys, OAuth
client secrets), keyed from ``SECRET_KEY``.

``SECRET_KEY_FALLBACKS`` keep decrypting after a secret key change, as Django does for
signatures; new values are always sealed with the current key.
"""

from __future__ import annotations

import base64
import functools

from cryptography.fernet import MultiFernet, Fernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings

_INFO = b"baas endusers secrets at rest v1"


def _derive(secret: str) -> Fernet:
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_INFO).derive(secret.encode())
    return Fernet(base64.urlsafe_b64encode(key))


@functools.cache
def _fernet(secrets: tuple[str, ...]) -> MultiFernet:
    return MultiFernet([_derive(secret) for secret in secrets])


def _current() -> MultiFernet:
    return _fernet((settings.SECRET_KEY, *getattr(settings, "SECRET_KEY_FALLBACKS", [])))


def secret_seal(plain: bytes) -> str:
    return _current().encrypt(plain).decode()


def secret_open(sealed: str) -> bytes:
    return _current().decrypt(sealed.encode())
