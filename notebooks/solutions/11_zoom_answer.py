import hashlib
import hmac
import json


def zoom_answer(body: bytes, secret: str) -> dict:
    plain_token = json.loads(body)["payload"]["plainToken"]
    encrypted = hmac.new(secret.encode(), plain_token.encode(), hashlib.sha256).hexdigest()
    return {"plainToken": plain_token, "encryptedToken": encrypted}


check.zoom_answer(zoom_answer)
