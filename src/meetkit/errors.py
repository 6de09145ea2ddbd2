"""Domain errors. Each carries the contract's error name and HTTP status; api/errors.py renders them."""

from __future__ import annotations

from typing import Any


class MeetkitError(Exception):
    status = 400
    name = "BadRequestError"

    def __init__(self, message: str, errors: list[Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.errors = errors

    def body(self) -> dict[str, Any]:
        out: dict[str, Any] = {"message": self.message, "name": self.name, "status": self.status}
        if self.errors is not None:
            out["errors"] = self.errors
        return out


class BadRequest(MeetkitError):
    pass


class InputValidationError(MeetkitError):
    name = "InputValidationError"


class NotFound(MeetkitError):
    status = 404
    name = "NotFoundError"


class Conflict(MeetkitError):
    status = 409
    name = "ConflictError"


class Forbidden(MeetkitError):
    status = 403
    name = "ForbiddenError"


class Unauthorized(Exception):
    """Rendered in the gateway's own shape: {"title", "detail"}."""

    def __init__(self, title: str = "Unauthorized", detail: str = "You did not provide correct credentials"):
        super().__init__(detail)
        self.title = title
        self.detail = detail
