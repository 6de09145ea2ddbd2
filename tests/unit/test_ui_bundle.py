"""The meeting page's bundle (web/bundle.py, scripts/build-ui.sh): the install builds it, the page loads
it instead of its modules, and only while it was built from the sources as they are."""

from __future__ import annotations

import shutil
from pathlib import Path

from meetkit.web import bundle
from meetkit.web.pages import static_dir

ENTRY = '<script type="module" src="{{static}}meeting.js"></script>'


def test_the_install_built_a_bundle_of_the_sources_as_they_are() -> None:
    static = static_dir()
    assert bundle.fresh(static), "no fresh web/static/dist/meeting.js: scripts/build-ui.sh (run by install.sh)"
    html = bundle.shell((static / "meeting.html").read_text(encoding="utf-8"), static)
    assert '<script type="module" src="{{static}}dist/meeting.js"></script>' in html
    assert "modulepreload" not in html and ENTRY not in html
    body = (static / bundle.BUNDLE).read_text(encoding="utf-8")
    # One file: no module of web/static/ is imported from it.
    assert 'from"./' not in body and 'from "./' not in body and "./features/" not in body


def test_a_bundle_older_than_its_sources_is_not_used(tmp_path: Path) -> None:
    static = tmp_path / "static"
    shutil.copytree(static_dir(), static)
    html = (static / "meeting.html").read_text(encoding="utf-8")
    assert bundle.fresh(static)
    module = static / "features" / "chat" / "chat.js"
    module.write_text(module.read_text(encoding="utf-8") + "\n// edited after the build\n", encoding="utf-8")
    assert not bundle.fresh(static)
    assert bundle.shell(html, static) == html  # the modules, with their modulepreload links
    (static / bundle.BUNDLE).unlink()
    assert bundle.shell(html, static) == html
