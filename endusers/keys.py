"""Per-project signing keys: creation, rotation, the published JWKS, and the process
caches that keep the database off the token-verification path.

Verification looks public keys up by ``(project, kid)`` in process memory; a miss costs
one indexed query, then the key is kept ``PUBLIC_TTL`` seconds. The signing key is kept
``SIGNER_TTL`` seconds, so after a rotation other processes may sign with the old key a
little longer, which is harmless: it stays published until its tokens have expired.
"""

from __future__ import annotations

import secrets
import threading
import time
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from jwt.algorithms import ECAlgorithm

from baas.api.errors import NotFound
from endusers.crypto import secret_open, secret_seal
from endusers.models import SigningKey
from projects.models import Project

ALGORITHM = "ES256"
PUBLIC_TTL = 60.0
MISSING_TTL = 5.0
SIGNER_TTL = 30.0
_CACHE_LIMIT = 10_000


@dataclass(frozen=True, slots=True)
class Signer:
    kid: str
    private_key: ec.EllipticCurvePrivateKey


_public: dict[tuple[str, str], tuple[float, ec.EllipticCurvePublicKey | None]] = {}
_signers: dict[str, tuple[float, Signer]] = {}
_lock = threading.Lock()


def local_clear() -> None:
    with _lock:
        _public.clear()
        _signers.clear()


def _published_after() -> Any:
    """Retired keys retired after this instant may still have unexpired tokens."""
    return timezone.now() - timedelta(seconds=settings.BAAS_AUTH_MAX_TOKEN_LIFETIME)


def _published(project_id: str) -> Any:
    return SigningKey.objects.for_project(project_id).exclude(retired_at__lte=_published_after())


def _key_create(project_id: str) -> SigningKey:
    private_key = ec.generate_private_key(ec.SECP256R1())
    public_pem = private_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    private_der = private_key.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    key = SigningKey(
        project_id=project_id,
        kid=secrets.token_urlsafe(12),
        algorithm=ALGORITHM,
        public_key_pem=public_pem.decode(),
        private_key_sealed=secret_seal(private_der),
    )
    key.save(force_insert=True)
    return key


def _active_key(project_id: str) -> SigningKey:
    """The signing key, created on first use; concurrent creators agree through the
    one-active-key constraint."""
    key = SigningKey.objects.for_project(project_id).filter(retired_at__isnull=True).first()
    if key is not None:
        return key
    if not Project.objects.filter(pk=project_id).exists():
        raise NotFound("Project not found.")
    try:
        with transaction.atomic():
            return _key_create(project_id)
    except IntegrityError:
        return SigningKey.objects.for_project(project_id).get(retired_at__isnull=True)


def signer_for(project_id: str) -> Signer:
    now = time.monotonic()
    entry = _signers.get(project_id)
    if entry is not None and entry[0] > now:
        return entry[1]
    key = _active_key(project_id)
    private_key = serialization.load_der_private_key(secret_open(key.private_key_sealed), password=None)
    assert isinstance(private_key, ec.EllipticCurvePrivateKey)
    signer = Signer(key.kid, private_key)
    with _lock:
        if len(_signers) > _CACHE_LIMIT:
            _signers.clear()
        _signers[project_id] = (now + SIGNER_TTL, signer)
        _public_put(project_id, key.kid, private_key.public_key(), now + PUBLIC_TTL)
    return signer


def _public_put(project_id: str, kid: str, key: ec.EllipticCurvePublicKey | None, until: float) -> None:
    if len(_public) > _CACHE_LIMIT:
        _public.clear()
    _public[(project_id, kid)] = (until, key)


def public_key_peek(project_id: str, kid: str) -> ec.EllipticCurvePublicKey | None | bool:
    """From process memory only: the key, None for a kid known not to be published,
    False when this process has not looked it up lately."""
    entry = _public.get((project_id, kid))
    if entry is None or entry[0] <= time.monotonic():
        return False
    return entry[1]


def public_key_lookup(project_id: str, kid: str) -> ec.EllipticCurvePublicKey | None:
    """A published key of this project (never another project's), or None."""
    found = public_key_peek(project_id, kid)
    if found is not False:
        return found  # type: ignore[return-value]
    row = _published(project_id).filter(kid=kid).values_list("public_key_pem", "retired_at").first()
    now = time.monotonic()
    if row is None:
        with _lock:
            _public_put(project_id, kid, None, now + MISSING_TTL)
        return None
    pem, retired_at = row
    public_key = serialization.load_pem_public_key(pem.encode())
    assert isinstance(public_key, ec.EllipticCurvePublicKey)
    until = now + PUBLIC_TTL
    if retired_at is not None:
        # Never cache a retired key past the end of its publication.
        end = (retired_at + timedelta(seconds=settings.BAAS_AUTH_MAX_TOKEN_LIFETIME) - timezone.now()).total_seconds()
        until = min(until, now + max(0.0, end))
    with _lock:
        _public_put(project_id, kid, public_key, until)
    return public_key


def signing_key_rotate(*, project_id: str) -> SigningKey:
    """Start signing with a new key. The old one stays published (tokens it signed keep
    verifying) until the longest token lifetime has passed."""
    with transaction.atomic():
        if not Project.objects.select_for_update().filter(pk=project_id).exists():
            raise NotFound("Project not found.")
        SigningKey.objects.for_project(project_id).filter(retired_at__isnull=True).update(retired_at=timezone.now())
        key = _key_create(project_id)
    with _lock:
        _signers.pop(project_id, None)
    transaction.on_commit(lambda: _signers.pop(project_id, None))
    return key


def signing_keys_purge(*, project_id: str | None = None) -> int:
    """Delete keys no longer published (their tokens have all expired); every project's
    when ``project_id`` is None (the hourly job)."""
    rows = SigningKey.objects.unscoped() if project_id is None else SigningKey.objects.for_project(project_id)
    deleted, _ = rows.filter(retired_at__lte=_published_after()).delete()
    return deleted


def jwks_document(*, project_id: str) -> dict[str, Any]:
    """The public half of every published key, newest first (RFC 7517)."""
    _active_key(project_id)
    keys = []
    for kid, pem in _published(project_id).order_by("-created_at", "-pk").values_list("kid", "public_key_pem"):
        jwk = ECAlgorithm.to_jwk(serialization.load_pem_public_key(pem.encode()), as_dict=True)
        keys.append({**jwk, "kid": kid, "alg": ALGORITHM, "use": "sig"})
    return {"keys": keys}
