import base64

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey


def sign_v1a(secret_key: str, msg_id: str, timestamp: int, body: bytes) -> str:
    private = Ed25519PrivateKey.from_private_bytes(base64.b64decode(secret_key.removeprefix("whsk_")))
    signature = private.sign(f"{msg_id}.{timestamp}.".encode() + body)
    return "v1a," + base64.b64encode(signature).decode()


check.sign_v1a(sign_v1a)
