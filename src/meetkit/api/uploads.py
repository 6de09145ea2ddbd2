"""meetkit's own S3-style upload endpoint for logos (step 2 of the three-step upload).

Clients POST (PHP: PUT) a multipart form: the policy fields, then ``file`` (as S3 requires: a field
after the file is ignored). The body is read as it arrives: the policy's signature is checked before
the file is read, the file goes to a temporary file on disk and is cut off at the policy's limit.
Answers are S3's: 204 on success, an XML ``<Error>`` otherwise, so SDKs written against S3 report
them sensibly."""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import hmac
import json
import tempfile
from datetime import datetime
from pathlib import Path
from typing import IO, Any
from xml.sax.saxutils import escape

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.requests import ClientDisconnect

from ..container import Container
from ..domain.dates import BadDate, parse_date
from ..domain.themes import logo_type_of_temp_key
from ..storage import tables as t
from .auth import container
from .bodylimit import UPLOAD_FIELDS_LIMIT
from .formstream import FormStream, Malformed, TooLarge, boundary_of
from .themes import UPLOAD_BUCKET, sign_policy

router = APIRouter(tags=["uploads"])
_MAX_FIELDS = 20  # the policy's fields are 10; some SDKs add a few of their own


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
    boundary = boundary_of(ctype)
    if boundary is None:
        return s3_error(400, "MalformedPOSTRequest", "The body of your POST request is not well-formed multipart")
    # The file arrives into a temporary file on disk and is stored from there: never in memory whole.
    with tempfile.NamedTemporaryFile(prefix="meetkit-upload-") as spool:
        try:
            answer = await _receive(c, FormStream(request.stream(), boundary), spool)
        except Malformed:
            return s3_error(400, "MalformedPOSTRequest", "The body of your POST request is not well-formed multipart")
        except ClientDisconnect:
            return s3_error(400, "IncompleteBody", "The request body ended before the form did")
        if isinstance(answer, Response):
            # Answered before the body was read to its end: the rest is not wanted.
            answer.headers["Connection"] = "close"
            return answer
        key, application_id, size = answer
        spool.flush()
        await asyncio.to_thread(c.objects.put_file, key, Path(spool.name))
    logo_type = logo_type_of_temp_key(key)
    assert logo_type is not None  # checked against the policy by _receive
    async with c.sessions.begin() as db:
        row = await db.get(t.LogoUpload, key)
        if row is None:
            db.add(t.LogoUpload(key=key, application_id=application_id, logo_type=logo_type.value,
                                size=size, uploaded_at=c.clock.now()))
        else:
            row.size, row.uploaded_at = size, c.clock.now()
    return Response(status_code=204)


async def _receive(c: Container, form: FormStream, spool: IO[bytes]) -> Response | tuple[str, str, int]:
    """Read the form: fields until the file, the policy checked before a byte of the file is read,
    then the file into ``spool`` up to the policy's limit. Parts after the file are ignored (as S3
    does). Returns an error answer, or (key, application id, size) of a file now in ``spool``."""
    fields: dict[str, str] = {}
    budget = UPLOAD_FIELDS_LIMIT
    async with contextlib.aclosing(form.parts()) as parts:
        async for part in parts:
            if part.name != "file":
                if len(fields) >= _MAX_FIELDS:
                    return s3_error(400, "InvalidArgument", f"a form may carry at most {_MAX_FIELDS} fields")
                try:
                    raw = await part.read(budget)
                except TooLarge:
                    return s3_error(400, "MaxPostPreDataLengthExceeded",
                                    "Your POST request fields preceding the upload file were too large.")
                budget -= len(raw)
                try:
                    fields[part.name] = raw.decode()
                except UnicodeDecodeError:
                    return s3_error(400, "InvalidArgument", "form fields must be UTF-8 text")
                continue
            checked = _check_policy(c, fields)
            if isinstance(checked, Response):
                return checked
            key, application_id, max_len = checked
            size = 0
            async for chunk in part.chunks():
                size += len(chunk)
                if size > max_len:
                    return s3_error(400, "EntityTooLarge", "Your proposed upload exceeds the maximum allowed size")
                await asyncio.to_thread(spool.write, chunk)
            return key, application_id, size
    checked = _check_policy(c, fields)
    if isinstance(checked, Response):
        return checked
    return s3_error(400, "InvalidArgument", "POST requires exactly one file upload per request")


def _check_policy(c: Container, text: dict[str, str]) -> Response | tuple[str, str, int]:
    """The fields' policy: signed by this server, not expired, and naming this key and bucket.
    Returns an error answer, or (key, application id, largest file) for an upload it allows."""
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
    if key != exact.get("key") or text.get("bucket", UPLOAD_BUCKET) != exact.get("bucket") \
            or logo_type_of_temp_key(key) is None:
        return s3_error(403, "AccessDenied", "Invalid according to Policy: Policy Condition failed: key")
    return key, str(exact.get("x-meetkit-application", "")), max_len
