"""The client's exceptions.

Two families, never mixed:

- `TidemarkError`: the sidecar answered, with an error. Carries the HTTP
  status and the API's error code (the `error.code` of the JSON body, e.g.
  ``precondition_failed``). A status without a subclass of its own raises
  `TidemarkError` itself.
- `TransportError`: no answer came back (connection refused or dropped,
  timeout, malformed HTTP). The request may or may not have been applied.
"""

import json


class TidemarkError(Exception):
    """The sidecar answered with an error status."""

    def __init__(self, status, code, message):
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message

    def __repr__(self):
        return (f"{type(self).__name__}(status={self.status!r}, code={self.code!r}, "
                f"message={self.message!r})")


class BadRequest(TidemarkError):
    """400: the request is malformed or invalid (invalid_key, invalid_offsets, ...)."""


class Unauthenticated(TidemarkError):
    """401: no bearer token, or not the sidecar's current one."""


class NotFound(TidemarkError):
    """404: no such state key, checkpoint or route."""


class MethodNotAllowed(TidemarkError):
    """405: the path exists but not with this method (an older sidecar?)."""


class Conflict(TidemarkError):
    """409: a precondition failed, e.g. an If-Match ETag that is no longer current."""


class PayloadTooLarge(TidemarkError):
    """413: the body is beyond the route's limit (http.max_blob_bytes for state values,
    http.max_request_bytes for other requests)."""


class ServerError(TidemarkError):
    """5xx: the sidecar could not do it (unavailable, checkpoint_timeout,
    insufficient_storage, internal)."""


class TransportError(Exception):
    """No HTTP answer: the connection could not be made, broke, or timed out.
    The original exception is the `__cause__`."""


_BY_STATUS = {
    400: BadRequest,
    401: Unauthenticated,
    404: NotFound,
    405: MethodNotAllowed,
    409: Conflict,
    413: PayloadTooLarge,
}


def error_for(status, body):
    """The exception for an error answer: `status` and its raw `body` (bytes).

    The body is normally ``{"error": {"code": ..., "message": ...}}``; anything
    else (a proxy's HTML page, an empty body) gives code ``"unknown"`` and the
    body's text as the message."""
    code, message = "unknown", ""
    try:
        doc = json.loads(body.decode("utf-8")) if body else None
    except (UnicodeDecodeError, ValueError):
        doc = None
    error = doc.get("error") if isinstance(doc, dict) else None
    if isinstance(error, dict) and isinstance(error.get("code"), str):
        code = error["code"]
        message = error.get("message") if isinstance(error.get("message"), str) else ""
    else:
        message = body[:500].decode("utf-8", errors="replace") if body else ""
    cls = _BY_STATUS.get(status)
    if cls is None:
        cls = ServerError if 500 <= status <= 599 else TidemarkError
    return cls(status, code, message)
