"""Every error leaves in the contract's shape: {message, name, status[, errors]} (401: {title, detail})."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from ..errors import MeetkitError, Unauthorized

log = logging.getLogger("meetkit.api")

_HTTP_NAMES = {
    400: "BadRequestError",
    401: "UnauthorizedError",
    403: "ForbiddenError",
    404: "NotFoundError",
    405: "MethodNotAllowedError",
    409: "ConflictError",
    413: "PayloadTooLargeError",
    415: "UnsupportedMediaTypeError",
    422: "InputValidationError",
    429: "TooManyRequestsError",
}


def error_response(status: int, name: str, message: str, errors: list[Any] | None = None) -> JSONResponse:
    body: dict[str, Any] = {"message": message, "name": name, "status": status}
    if errors is not None:
        body["errors"] = errors
    return JSONResponse(body, status_code=status)


def _describe(err: dict[str, Any]) -> str:
    loc = [str(p) for p in err.get("loc", ()) if p not in ("body", "query", "path")]
    where = ".".join(loc) or "body"
    msg = str(err.get("msg", "is invalid"))
    if err.get("type") == "json_invalid":
        return "body is not valid JSON"
    if err.get("type") == "missing":
        return f'"{where}" is required'
    return f'"{where}" {msg[0].lower() + msg[1:] if msg else "is invalid"}'


def install(app: FastAPI) -> None:
    @app.exception_handler(MeetkitError)
    async def _meetkit(_req: Request, exc: MeetkitError) -> JSONResponse:
        return JSONResponse(exc.body(), status_code=exc.status)

    @app.exception_handler(Unauthorized)
    async def _unauth(_req: Request, exc: Unauthorized) -> JSONResponse:
        return JSONResponse({"title": exc.title, "detail": exc.detail}, status_code=401)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_req: Request, exc: RequestValidationError) -> JSONResponse:
        problems = [_describe(e) for e in exc.errors()][:20]
        return error_response(400, "InputValidationError", problems[0] if problems else "invalid request", problems)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_req: Request, exc: StarletteHTTPException) -> JSONResponse:
        status = exc.status_code
        name = _HTTP_NAMES.get(status, "Error")
        message = exc.detail if isinstance(exc.detail, str) else "request failed"
        if status == 404 and message == "Not Found":
            message = "The requested resource does not exist"
        response = error_response(status, name, message)
        if exc.headers:
            response.headers.update(exc.headers)
        return response

    @app.exception_handler(Exception)
    async def _unexpected(_req: Request, exc: Exception) -> JSONResponse:
        log.exception("unexpected error: %s", type(exc).__name__)
        return error_response(500, "InternalServerError", "internal error")
