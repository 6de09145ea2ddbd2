"""JSON responses from response models, by alias, with optional links dropped when absent."""

from __future__ import annotations

from typing import Any

from fastapi.responses import JSONResponse
from pydantic import BaseModel


def json(model: BaseModel | list[Any], status: int = 200) -> JSONResponse:
    if isinstance(model, list):
        content: Any = [m.model_dump(by_alias=True) if isinstance(m, BaseModel) else m for m in model]
    else:
        content = model.model_dump(by_alias=True)
        links = content.get("_links") if isinstance(content, dict) else None
        if isinstance(links, dict):
            for rel in ("next", "prev"):
                if rel in links and links[rel] is None:
                    del links[rel]
    return JSONResponse(content, status_code=status)
