"""Ed25519 keys for Standard Webhooks' asymmetric ``v1a`` signatures.

With an HMAC (``v1``) both sides hold the same secret, so anyone who can check a signature can
also forge one. With Ed25519 the sender signs with a *secret key* it never shares, and receivers
check with the matching *public key*, which may be published. The Standard Webhooks spec
("Signature scheme", the table of symmetric and asymmetric signatures) serialises both as base64,
prefixed ``whsk_`` for the secret key and ``whpk_`` for the public key, and recommends asymmetric
signatures where possible.

The spec does not say which of Ed25519's two common secret-key forms it means, so this module
writes the 32-byte private key of RFC 8032 (PyCA ``cryptography``'s raw form, PyNaCl's seed) and
reads that or libsodium's 64-byte form (seed followed by the public key, as PyNaCl's
``SigningKey`` and ``crypto_sign_keypair`` give), checking the public half of the latter.

The arithmetic is PyCA ``cryptography``'s: Ed25519 is exactly what one must not write by hand.
It is imported on first use, so ``import webhooks_lab.signing`` stays cheap.
"""

from __future__ import annotations

import base64
import binascii
from functools import lru_cache
from typing import Any

from webhooks_lab.errors import Error

__all__ = [
    "SECRET_KEY_PREFIX",
    "PUBLIC_KEY_PREFIX",
    "InvalidKey",
    "generate_keypair",
    "public_key_of",
    "sign_ed25519",
    "check_ed25519",
    "is_secret_key",
    "is_public_key",
]

SECRET_KEY_PREFIX = "whsk_"
PUBLIC_KEY_PREFIX = "whpk_"
_MAX_KEY_CHARS = 200  # base64 of 64 bytes is 88 characters; anything far longer is not a key


class InvalidKey(Error, ValueError):
    """A ``whsk_`` / ``whpk_`` key that is not one: wrong type, not base64, or the wrong size."""


def is_secret_key(value: object) -> bool:
    """Whether ``value`` claims to be an Ed25519 secret key (starts with ``whsk_``)."""
    return isinstance(value, str) and value.startswith(SECRET_KEY_PREFIX)


def is_public_key(value: object) -> bool:
    """Whether ``value`` claims to be an Ed25519 public key (starts with ``whpk_``)."""
    return isinstance(value, str) and value.startswith(PUBLIC_KEY_PREFIX)


def _decode(key: object, prefix: str, what: str, sizes: tuple[int, ...]) -> bytes:
    if not isinstance(key, str):
        raise InvalidKey(f"an Ed25519 {what} is a str like '{prefix}...', got {type(key).__name__}")
    if not key.startswith(prefix):
        raise InvalidKey(f"an Ed25519 {what} starts with {prefix!r}")
    if len(key) > _MAX_KEY_CHARS:
        raise InvalidKey(f"this {what} is {len(key)} characters long; a real one is under 100")
    encoded = key[len(prefix) :].rstrip("=")
    try:
        raw = base64.b64decode(encoded + "=" * (-len(encoded) % 4), validate=True)
    except (binascii.Error, ValueError):
        raise InvalidKey(f"the {what} after {prefix!r} is not valid base64") from None
    if len(raw) not in sizes:
        wanted = " or ".join(str(size) for size in sizes)
        raise InvalidKey(f"an Ed25519 {what} is {wanted} bytes, this one is {len(raw)}")
    return raw


@lru_cache(maxsize=64)
def _private(secret_key: str) -> Any:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    raw = _decode(secret_key, SECRET_KEY_PREFIX, "secret key", (32, 64))
    private = Ed25519PrivateKey.from_private_bytes(raw[:32])
    if len(raw) == 64 and _raw_public(private) != raw[32:]:
        raise InvalidKey("this 64-byte secret key's second half is not its own public key")
    return private


@lru_cache(maxsize=64)
def _public(public_key: str) -> Any:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    raw = _decode(public_key, PUBLIC_KEY_PREFIX, "public key", (32,))
    try:
        return Ed25519PublicKey.from_public_bytes(raw)
    except ValueError:
        raise InvalidKey("these 32 bytes are not an Ed25519 public key") from None


def _raw_public(private: Any) -> bytes:
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    return private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)


def generate_keypair() -> tuple[str, str]:
    """A new ``("whsk_...", "whpk_...")`` pair: keep the first, give receivers the second."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat

    private = Ed25519PrivateKey.generate()
    raw = private.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
    return (
        SECRET_KEY_PREFIX + base64.b64encode(raw).decode("ascii"),
        PUBLIC_KEY_PREFIX + base64.b64encode(_raw_public(private)).decode("ascii"),
    )


def public_key_of(secret_key: str) -> str:
    """The ``whpk_`` public key that checks what ``secret_key`` signs."""
    raw = _raw_public(_private(secret_key))
    return PUBLIC_KEY_PREFIX + base64.b64encode(raw).decode("ascii")


def sign_ed25519(secret_key: str, content: bytes) -> str:
    """base64 of the Ed25519 signature of ``content`` (the part after ``v1a,``)."""
    return base64.b64encode(_private(secret_key).sign(content)).decode("ascii")


def check_ed25519(public_key: str, content: bytes, signature: str) -> bool:
    """Whether ``signature`` (base64, as after ``v1a,``) is ``public_key``'s over ``content``.

    A signature that is not base64 of 64 bytes is simply not a match.
    """
    from cryptography.exceptions import InvalidSignature

    if len(signature) > 100 or not signature.isascii():
        return False
    try:
        raw = base64.b64decode(signature, validate=True)
    except (binascii.Error, ValueError):
        return False
    if len(raw) != 64:
        return False
    try:
        _public(public_key).verify(raw, content)
    except InvalidSignature:
        return False
    return True
