"""CloudEvents 1.0 over HTTP: read one into a lab event, write a lab event as one. No I/O.

CloudEvents is the CNCF's common envelope for events: four required attributes, ``specversion``
(``"1.0"``), ``id``, ``source`` (a URI reference) and ``type``, and optional ones such as
``time``, ``subject`` and ``datacontenttype`` (CloudEvents spec 1.0.2, "Context Attributes").
The HTTP binding carries an event in one of two modes (spec ``http-protocol-binding.md``):

* **binary**: every attribute is a header, ``ce-`` and its name (``ce-specversion: 1.0``,
  ``ce-id``, ``ce-source``, ``ce-type``...), ``Content-Type`` is ``datacontenttype``, and the
  body is the data alone;
* **structured**: ``Content-Type: application/cloudevents+json`` and the body is the whole event
  as JSON, attributes and ``data`` (or ``data_base64``) together.

**What a webhook signature covers differs.** Standard Webhooks signs ``id.timestamp.body``, and
GitHub, Stripe and the rest sign the body. In structured mode the body *is* the event, so every
attribute is signed. In binary mode the body is only the data: ``ce-type``, ``ce-source`` and
``ce-time`` are headers that no body signature covers, and someone able to change them in
transit changes what the event means without breaking the signature. Sign structured, or make
the receiver trust only signed parts.

:func:`read` turns a request's headers and body into a lab payload (``{"type", "timestamp",
"data"}``) and the CloudEvent's ``id`` (which becomes the delivery's webhook id); a malformed
CloudEvent raises :class:`CloudEventRefused` with the status to answer (400, or 415 for a wrong
content type) and a reason. :func:`to_binary` and :func:`to_structured` write one.
Interoperability with the official ``cloudevents`` Python SDK is tested both ways; the lab does
not depend on the SDK at run time (this module is all the lab needs, and the course stays
small), so it is a test extra.
"""

from __future__ import annotations

import base64
import json
import time
from datetime import datetime, timezone
from typing import Any

from webhooks_lab import signing, strict_json
from webhooks_lab.errors import Error
from webhooks_lab.events import Event, iso_utc

__all__ = [
    "REQUIRED",
    "STRUCTURED",
    "CloudEventRefused",
    "claimed",
    "misdressed",
    "read",
    "request",
    "to_binary",
    "to_structured",
]

SPECVERSION = "1.0"
REQUIRED = ("specversion", "id", "source", "type")
STRUCTURED = "application/cloudevents+json"
BATCH = "application/cloudevents-batch+json"
MAX_ATTRIBUTE = 2048  # characters an attribute may have; the spec sets no limit, the lab does


class CloudEventRefused(Error, ValueError):
    """A request that claims to be a CloudEvent and is not a valid one; ``status`` to answer."""

    def __init__(self, detail: str, *, status: int = 400, code: str = "invalid_cloudevent") -> None:
        super().__init__(detail)
        self.status, self.code = status, code


_BINARY_HEADERS = tuple(f"ce-{name}" for name in REQUIRED)


def claimed(headers: dict[str, str]) -> bool:
    """Does this request say it is a CloudEvent (a ``ce-`` header of a required attribute, or a
    CloudEvents content type)? Cheap: the receiver asks it of every delivery.

    The binding marks binary mode with ``ce-specversion``; a request with ``ce-id``,
    ``ce-source`` or ``ce-type`` but no ``ce-specversion`` is a CloudEvent that forgot it, and is
    refused as one (400, missing specversion) rather than taken as a plain delivery."""
    if _binary(headers):
        return True
    return headers.get("content-type", "").lstrip().lower().startswith("application/cloudevents")


def _binary(headers: dict[str, str]) -> bool:
    return not headers.keys().isdisjoint(_BINARY_HEADERS)


def read(
    headers: dict[str, str], body: bytes, *, max_depth: int = 64, max_number_chars: int = 4300
) -> tuple[dict[str, Any], str]:
    """The lab payload and the CloudEvent's id, from a request :func:`claimed` said is one.

    ``headers`` have lower-case names. Raises :class:`CloudEventRefused`.
    """
    content_type = headers.get("content-type", "")
    media = content_type.split(";")[0].strip().lower()
    if _binary(headers):
        if media in (STRUCTURED, BATCH):
            raise CloudEventRefused(
                f"ce- headers say binary mode but Content-Type {media} says structured; "
                "send one or the other",
                status=415,
                code="wrong_content_type",
            )
        attributes = {name[3:]: value for name, value in headers.items() if name.startswith("ce-")}
        if content_type:
            attributes["datacontenttype"] = content_type
        data = _binary_data(body, media, max_depth, max_number_chars)
    elif media == STRUCTURED:
        envelope = _json(body, max_depth, max_number_chars, "a structured CloudEvent")
        if not isinstance(envelope, dict):
            raise CloudEventRefused("a structured CloudEvent is a JSON object")
        attributes = {k: v for k, v in envelope.items() if k not in ("data", "data_base64")}
        data = envelope.get("data")
        if "data_base64" in envelope:
            try:
                data = base64.b64decode(str(envelope["data_base64"]), validate=True)
            except ValueError:
                raise CloudEventRefused("data_base64 is not valid base64") from None
    elif media == BATCH:
        raise CloudEventRefused(
            "batched CloudEvents are not accepted here; send one event per request",
            status=415,
            code="wrong_content_type",
        )
    else:
        raise CloudEventRefused(
            f"Content-Type {media or '(none)'} is not a CloudEvents content type; "
            f"use {STRUCTURED}, or binary mode with ce- headers",
            status=415,
            code="wrong_content_type",
        )
    _check(attributes)
    return _payload(attributes, data), str(attributes["id"])


def misdressed(payload: Any, headers: dict[str, str]) -> CloudEventRefused | None:
    """A plain-JSON body that is a CloudEvent sent with the wrong content type, or ``None``."""
    if isinstance(payload, dict) and "specversion" in payload and not claimed(headers):
        media = headers.get("content-type", "").split(";")[0].strip() or "(none)"
        return CloudEventRefused(
            f"this looks like a structured CloudEvent, but its Content-Type is {media}; "
            f"send it as {STRUCTURED}",
            status=415,
            code="wrong_content_type",
        )
    return None


def request(
    event: Event,
    source: str,
    *,
    mode: str = "structured",
    secret: str | None = None,
    scheme: str = "standard",
    timestamp: int | None = None,
) -> tuple[dict[str, str], bytes]:
    """The headers and body to POST ``event`` as a CloudEvent in ``mode``, signed if ``secret``.

    The signature (``scheme``, over the body as every scheme signs) uses the CloudEvent's id as
    the ``webhook-id``. In binary mode it covers the data only; see the module docstring.
    """
    if mode not in ("binary", "structured"):
        raise ValueError(f"mode is 'binary' or 'structured', got {mode!r}")
    headers, body = (to_binary if mode == "binary" else to_structured)(event, source)
    if secret is not None:
        stamp = int(time.time()) if timestamp is None else int(timestamp)  # a fact on the wire
        headers.update(signing.headers_for(scheme, secret, body, msg_id=event.id, timestamp=stamp))
    return headers, body


def to_binary(event: Event, source: str) -> tuple[dict[str, str], bytes]:
    """``event`` as a binary-mode CloudEvent: ``ce-`` headers and the data as the body."""
    headers = {f"ce-{name}": str(value) for name, value in _attributes(event, source).items()}
    headers["content-type"] = "application/json"
    return headers, _dumps(event.data)


def to_structured(event: Event, source: str) -> tuple[dict[str, str], bytes]:
    """``event`` as a structured-mode CloudEvent: the whole envelope as the JSON body."""
    envelope = {**_attributes(event, source), "datacontenttype": "application/json"}
    envelope["data"] = event.data
    return {"content-type": STRUCTURED}, _dumps(envelope)


# -- the details ---------------------------------------------------------------------------------


def _attributes(event: Event, source: str) -> dict[str, str]:
    return {
        "specversion": SPECVERSION,
        "id": event.id,
        "source": source,
        "type": event.type,
        "time": iso_utc(event.timestamp),
    }


def _dumps(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()


def _json(body: bytes, max_depth: int, max_number_chars: int, what: str) -> Any:
    try:
        return strict_json.loads(body, max_depth=max_depth, max_number_chars=max_number_chars)
    except strict_json.JSONRefused as exc:
        raise CloudEventRefused(f"{what} must be JSON: {exc}") from None


def _binary_data(body: bytes, media: str, max_depth: int, max_number_chars: int) -> Any:
    if not body:
        return None
    # No Content-Type means none was given for the data (the SDK sends dicts so); read JSON.
    if not media or media == "application/json" or media.endswith("+json"):
        return _json(body, max_depth, max_number_chars, "the data of this CloudEvent")
    if media.startswith("text/"):
        return body.decode("utf-8", "replace")
    return body


def _check(attributes: dict[str, Any]) -> None:
    missing = [name for name in REQUIRED if not attributes.get(name)]
    if missing:
        raise CloudEventRefused(
            f"a CloudEvent needs {', '.join(REQUIRED)}; missing or empty: {', '.join(missing)}",
            code="missing_attribute",
        )
    for name, value in attributes.items():
        if not isinstance(value, str):
            raise CloudEventRefused(
                f"attribute {name} must be a string, got {type(value).__name__}"
            )
        if len(value) > MAX_ATTRIBUTE:
            raise CloudEventRefused(f"attribute {name} is longer than {MAX_ATTRIBUTE} characters")
    if attributes["specversion"] != SPECVERSION:
        raise CloudEventRefused(
            f"specversion {attributes['specversion'][:20]!r} is not supported; this receiver "
            f"reads CloudEvents {SPECVERSION}",
            code="unsupported_specversion",
        )
    if "time" in attributes:
        _time(attributes["time"])


def _time(value: str) -> datetime:
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise CloudEventRefused(f"time {value[:40]!r} is not an RFC 3339 timestamp") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def _payload(attributes: dict[str, Any], data: Any) -> dict[str, Any]:
    if isinstance(data, bytes):
        data = {"data_base64": base64.b64encode(data).decode()}
    elif not isinstance(data, dict):
        data = {} if data is None else {"value": data}
    moment = _time(attributes["time"]) if "time" in attributes else datetime.now(timezone.utc)
    extras = {k: v for k, v in attributes.items() if k not in ("specversion", "id", "type")}
    return {
        "type": attributes["type"],
        "timestamp": iso_utc(moment),
        "data": data,
        "cloudevent": extras,  # source, subject, time, extensions: kept, not in the way
    }
