"""The server's log configuration (uvicorn's, plus one filter): request targets are logged with
their credentials removed. A host link carries ``?participant_token=``, a recording's download link
``?signature=``; either, copied from a log, would make its reader the host or let them download the
recording (issue 10 finding 8). The filter sits on both uvicorn handlers, so the access log
(``meetkit serve --access-log``) and the socket lines of uvicorn's error log are covered."""

from __future__ import annotations

import copy
import logging
import re
from typing import Any

# Query parameters that are credentials. Matched by name, case-insensitively; the value is replaced.
SECRET_PARAMETERS = ("participant_token", "signature", "token", "access_token", "resume_token",
                     "x-amz-signature", "x-amz-security-token", "x-amz-credential", "policy")
_SECRET = re.compile(r"([?&;](?:" + "|".join(re.escape(p) for p in SECRET_PARAMETERS) + r")=)[^&;#\s\"]*",
                     re.IGNORECASE)
REDACTED = "[redacted]"


def redact(text: str) -> str:
    """``text`` with the value of every credential query parameter replaced by ``[redacted]``."""
    return _SECRET.sub(lambda m: m.group(1) + REDACTED, text) if "=" in text else text


class RedactTokens(logging.Filter):
    """Rewrites a record's arguments (uvicorn passes the request target as one) and message."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(redact(a) if isinstance(a, str) else a for a in record.args)
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        return True


def log_config() -> dict[str, Any]:
    """uvicorn's default logging configuration with ``RedactTokens`` on its handlers."""
    from uvicorn.config import LOGGING_CONFIG

    config = copy.deepcopy(LOGGING_CONFIG)
    config.setdefault("filters", {})["redact_tokens"] = {"()": RedactTokens}
    for handler in config["handlers"].values():
        handler.setdefault("filters", []).append("redact_tokens")
    return config
