"""Domain errors of order-api, raised by the service layer and mapped to HTTP by the handler.

Each error carries a sentence written for the client; the handler turns it into a problem
document with the status RFC 9110 (HTTP Semantics, section 15.5) assigns to it.
"""

from __future__ import annotations

from dataclasses import dataclass


class ApiError(Exception):
    """Base of the errors the handler answers with a 4xx problem."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class NotFoundError(ApiError):
    """No such resource ever existed here (404)."""


class GoneError(ApiError):
    """The resource existed and was deleted on purpose (410, RFC 9110 section 15.5.11)."""


class MalformedRequestError(ApiError):
    """The request cannot be parsed at all, e.g. its body is not JSON (400)."""


@dataclass(frozen=True)
class FieldError:
    """One failing field of a well-formed body: its name and what is wrong with it."""

    field: str
    detail: str

    @property
    def pointer(self) -> str:
        """JSON Pointer (RFC 6901) to the field, as the RFC 9457 validation example uses."""
        escaped = self.field.replace("~", "~0").replace("/", "~1")
        return "#" if self.field == "" else f"#/{escaped}"


class ValidationFailedError(ApiError):
    """A well-formed body breaks the rules, one ``FieldError`` per failing field (422)."""

    def __init__(self, errors: list[FieldError]) -> None:
        super().__init__("The request body failed validation; see errors.")
        self.errors = errors


class UnknownJobError(Exception):
    """An export message names a job that is not in the table (a worker-side failure)."""
