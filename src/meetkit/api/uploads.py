"""meetkit's own S3-style upload endpoint for logos (step 2 of the three-step upload).

Clients POST (PHP: PUT) a multipart form: the policy fields, then ``file``. Answers are S3's: 204 on
success, an XML ``<Error>`` otherwise, so SDKs written against S3 report them sensibly."""

from __future__ import annotations

import asyncio
import base64
import binascii
import hmac
import json
from datetime import datetime
from typing import Any
from xml.sax.saxutils import escape

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.formparsers import MultiPartException

from ..domain.dates import BadDate, parse_date
from ..domain.themes import logo_type_of_temp_key
from ..storage import tables as t
from .auth import container
from .themes import UPLOAD_BUCKET, sign_policy

router = APIRouter(tags=["uploads"])


def s3_error(status: int, code: str, message: str) -> Response:
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f"<Error><Code>{escape(code)}</Code><Message>{escape(message)}</Message></Error>"
    )
    return Response(body, status_code=status, media_type="application/xml")


def _policy_conditions(policy_b64: str) -> tuple[datetime, dict[str, Any], int] | None:
    try:
        doc = json.loads(base64.b64decode(policy_b64, validate=True))
        expiration = parse_date(doc["expiration"])
        exact: dict[str, Any] = {}
        max_len = 0
        for cond in doc["conditions"]:
            if isinstance(cond, dict):
                exact.update(cond)
            elif isinstance(cond, list) and cond and cond[0] == "content-length-range":
                max_len = int(cond[2])
    except (ValueError, KeyError, TypeError, IndexError, binascii.Error, BadDate):
        return None
    return expiration, exact, max_len


async def _read_part(value: str | UploadFile) -> bytes:
    if isinstance(value, UploadFile):
        return await value.read()
    return value.encode()


@router.post("/uploads", status_code=204, operation_id="upload_logo",
             summary="Upload a logo with a signed policy (S3 POST-object style)")
async def upload(request: Request) -> Response:
    return await _upload(request)


@router.put("/uploads", status_code=204, operation_id="upload_logo_put",
            summary="Upload a logo with a signed policy (PUT, as the PHP SDK sends it)")
async def upload_put(request: Request) -> Response:
    return await _upload(request)


async def _upload(request: Request) -> Response:
    c = container(request)
    ctype = request.headers.get("content-type", "")
    if not ctype.startswith("multipart/form-data"):
        return s3_error(400, "InvalidArgument", "POST requires a multipart/form-data body with a policy and a file")
    length = request.headers.get("content-length")
    if length and length.isdigit() and int(length) > c.settings.max_upload_bytes + 64 * 1024:
        return s3_error(400, "EntityTooLarge", "Your proposed upload exceeds the maximum allowed size")
    try:
        # Some SDKs send every field as a file part (filename=...), so files are counted generously.
        form = await request.form(max_files=20, max_fields=20, max_part_size=c.settings.max_upload_bytes)
    except (MultiPartException, HTTPException, ValueError):
        # Inside an app Starlette re-raises multipart parse errors (e.g. a missing boundary) as
        # HTTPException, which would leave as a JSON body: this endpoint answers in S3's XML.
        return s3_error(400, "MalformedPOSTRequest", "The body of your POST request is not well-formed multipart")
    try:
        fields: dict[str, bytes] = {}
        for name, value in form.multi_items():
            fields[name] = await _read_part(value)
    finally:
        await form.close()
    try:
        text = {k: v.decode() for k, v in fields.items() if k != "file"}
    except UnicodeDecodeError:
        return s3_error(400, "InvalidArgument", "form fields must be UTF-8 text")
    policy_b64, signature = text.get("Policy"), text.get("X-Amz-Signature")
    if not policy_b64 or not signature:
        return s3_error(403, "AccessDenied", "Invalid according to Policy: missing policy or signature")
    if not hmac.compare_digest(sign_policy(c.secret, policy_b64).encode(), signature.encode()):
        return s3_error(403, "SignatureDoesNotMatch", "The request signature we calculated does not match")
    parsed = _policy_conditions(policy_b64)
    if parsed is None:
        return s3_error(400, "InvalidPolicyDocument", "Invalid Policy: malformed policy document")
    expiration, exact, max_len = parsed
    if c.clock.now() > expiration:
        return s3_error(403, "AccessDenied", "Invalid according to Policy: Policy expired.")
    key = text.get("key", "")
    logo_type = logo_type_of_temp_key(key)
    if key != exact.get("key") or text.get("bucket", UPLOAD_BUCKET) != exact.get("bucket") or logo_type is None:
        return s3_error(403, "AccessDenied", "Invalid according to Policy: Policy Condition failed: key")
    if "file" not in fields:
        return s3_error(400, "InvalidArgument", "POST requires exactly one file upload per request")
    data = fields["file"]
    if len(data) > max_len:
        return s3_error(400, "EntityTooLarge", "Your proposed upload exceeds the maximum allowed size")
    application_id = str(exact.get("x-meetkit-application", ""))
    await asyncio.to_thread(c.objects.put, key, data)
    async with c.sessions.begin() as db:
        row = await db.get(t.LogoUpload, key)
        if row is None:
            db.add(t.LogoUpload(key=key, application_id=application_id, logo_type=logo_type.value,
                                size=len(data), uploaded_at=c.clock.now()))
        else:
            row.size, row.uploaded_at = len(data), c.clock.now()
    return Response(status_code=204)
