"""The OpenAPI description as meetkit really answers: 400 (not FastAPI's 422) for invalid input,
413 for a body over the size limit, the JWT bearer scheme, and 401 in the gateway's shape and 429
(the application's fair share, api/fairness.py) on every authenticated operation."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

# Served without a JWT: the signed upload endpoint, signed downloads, public logo assets.
_PUBLIC_PREFIXES = ("/v1/meetings/uploads", "/v1/meetings/assets/")
_PUBLIC_SUFFIXES = ("/download",)

_ERROR = {"$ref": "#/components/schemas/ErrorOut"}
_UNAUTHORIZED_REF = {"$ref": "#/components/schemas/Unauthorized"}
_UNAUTHORIZED = {
    "type": "object",
    "properties": {"title": {"type": "string"}, "detail": {"type": "string"}},
    "required": ["title", "detail"],
}


def _is_public(path: str) -> bool:
    return path.startswith(_PUBLIC_PREFIXES) or path.endswith(_PUBLIC_SUFFIXES)


def install(app: FastAPI) -> None:
    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        spec = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
        components = spec.setdefault("components", {})
        schemas = components.setdefault("schemas", {})
        schemas.pop("HTTPValidationError", None)
        schemas.pop("ValidationError", None)
        schemas["Unauthorized"] = _UNAUTHORIZED
        components["securitySchemes"] = {
            "applicationJwt": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT (RS256, per application)"}
        }
        for path, operations in spec.get("paths", {}).items():
            for operation in operations.values():
                responses = operation.setdefault("responses", {})
                if responses.pop("422", None) is not None or operation.get("parameters") or "requestBody" in operation:
                    responses.setdefault("400", {"description": "Invalid input",
                                                 "content": {"application/json": {"schema": _ERROR}}})
                if "requestBody" in operation or path.endswith("/uploads"):  # api/bodylimit.py
                    responses.setdefault("413", {"description": "Request body over the size limit",
                                                 "content": {"application/json": {"schema": _ERROR}}})
                if not _is_public(path):
                    operation["security"] = [{"applicationJwt": []}]
                    responses["401"] = {"description": "Missing, invalid, expired or replayed token",
                                        "content": {"application/json": {"schema": _UNAUTHORIZED_REF}}}
                    responses.setdefault("429", {  # api/fairness.py: the application's queue is full
                        "description": "Too many requests of this application at once (Retry-After)",
                        "content": {"application/json": {"schema": _ERROR}}})
        app.openapi_schema = spec
        return spec

    app.openapi = openapi  # type: ignore[method-assign]
