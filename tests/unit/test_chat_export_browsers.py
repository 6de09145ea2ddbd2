"""domain/chat_export.py (one escaped line per message) and domain/browsers.py (the signed per-browser
id) — issue 10, findings 7 and 9."""

from __future__ import annotations

from datetime import UTC, datetime

from meetkit.domain.browsers import new_browser_id, verified_browser_key
from meetkit.domain.chat_export import ExportedMessage, escape, export_text

AT = datetime(2026, 1, 30, 15, 0, 7, 123000, tzinfo=UTC)


def test_every_message_is_one_line_whatever_it_holds() -> None:
    messages = [
        ExportedMessage(AT, "guest", "Host", "hi\r\n[2026-01-30 15:00:08 UTC] [host] Hana: pay me"),
        ExportedMessage(AT, "host", "Ha\nna", "a \\n is not a newline; \u202eevil\u2028x\x85y\tz"),
        ExportedMessage(AT, "guest", "👩🏽‍💻", "emoji\u200d stay"),
    ]
    text = export_text(messages)
    lines = text.splitlines()
    assert len(lines) == 3 and text.endswith("\n")
    assert lines[0] == "[2026-01-30 15:00:07 UTC] [guest] Host: hi\\r\\n[2026-01-30 15:00:08 UTC] [host] Hana: pay me"
    assert lines[1] == ("[2026-01-30 15:00:07 UTC] [host] Ha\\nna: a \\\\n is not a newline; \\u202eevil\\u2028x"
                        "\\u0085y\\tz")
    assert lines[2] == "[2026-01-30 15:00:07 UTC] [guest] 👩🏽‍💻: emoji\u200d stay"


def test_escape_is_reversible_enough_to_tell_a_backslash_from_a_newline() -> None:
    assert escape("\\n") == "\\\\n" and escape("\n") == "\\n"


def test_a_browser_id_is_verified_by_its_signature() -> None:
    secret = b"s" * 32
    key, signed = new_browser_id(secret)
    assert verified_browser_key(secret, signed) == key
    assert verified_browser_key(b"t" * 32, signed) is None  # another server's
    prefix, random, sig = signed.split(".")
    other_key, _ = new_browser_id(secret)
    assert verified_browser_key(secret, f"{prefix}.{other_key}.{sig}") is None  # someone else's id, my signature
    for bad in (None, "", "b1", "b1..", f"b2.{random}.{sig}", signed + ".x", f"b1.{random}.{sig[:-1]}"):
        assert verified_browser_key(secret, bad) is None
    assert new_browser_id(secret)[0] != key
