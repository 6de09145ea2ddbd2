"""The meeting page's modules as one file, when the install built it (scripts/build-ui.sh).

The page is ~45 ES modules (docs/ui.md). Loaded one by one, even with a modulepreload link each, a
fresh page spent ~150-300 ms fetching and linking them on this 2-core machine before the pre-join
form was there; one esbuild bundle took that out (bench/join.py, docs/media.md "Join time"). The
modules stay the source: the bundle is used only while it was built from exactly the files beside it
(``sources.sha256``), so a page never runs code older than what is in web/static/ — after an edit
without a rebuild, the page loads the modules again (and the log says so)."""

from __future__ import annotations

import hashlib
import logging
import re
import sys
from pathlib import Path

log = logging.getLogger("meetkit.web")

BUNDLE = "dist/meeting.js"
STAMP = "dist/sources.sha256"
_PRELOAD = re.compile(r'<link rel="modulepreload" href="\{\{static\}\}[^"]+">\n')
_ENTRY = '<script type="module" src="{{static}}meeting.js"></script>'


def sources_digest(static: Path) -> str:
    """SHA-256 over the UI's JavaScript sources (names and contents), the bundle's own files left out."""
    h = hashlib.sha256()
    for path in sorted(p for p in static.rglob("*.js") if "dist" not in p.relative_to(static).parts):
        h.update(path.relative_to(static).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    return h.hexdigest()


def fresh(static: Path) -> bool:
    """The bundle exists and was built from the sources as they are now."""
    bundle, stamp = static / BUNDLE, static / STAMP
    if not bundle.is_file() or not stamp.is_file():
        return False
    if stamp.read_text(encoding="utf-8").strip() != sources_digest(static):
        log.warning("the UI bundle is older than web/static/: the page loads its modules one by one "
                    "(scripts/build-ui.sh builds it again)")
        return False
    return True


def shell(html: str, static: Path) -> str:
    """The page shell, loading the bundle instead of the modules when it is fresh."""
    if not fresh(static):
        return html
    if _ENTRY not in html:  # the shell changed how it loads meeting.js (tests/unit/test_ui_modules.py)
        log.warning("meeting.html does not load meeting.js as web/bundle.py expects: the modules are loaded")
        return html
    return _PRELOAD.sub("", html).replace(_ENTRY, _ENTRY.replace("meeting.js", BUNDLE))


if __name__ == "__main__":  # scripts/build-ui.sh: stamp the bundle just built
    folder = Path(sys.argv[1])
    (folder / STAMP).write_text(sources_digest(folder) + "\n", encoding="utf-8")
