"""The meeting UI's module graph, read from the files: every static import resolves to a file under
web/static/, every module the page loads has a modulepreload link in meeting.html (so the split into
feature modules costs no round trips when joining), and no module is over ~300 lines."""

from __future__ import annotations

import re
from pathlib import Path

from meetkit.web.pages import static_dir

IMPORT = re.compile(r"""^\s*(?:import|export)\b[^'"]*?\bfrom\s+["']([^"']+)["']|^\s*import\s+["']([^"']+)["']""", re.M)
PRELOAD = re.compile(r'<link rel="modulepreload" href="\{\{static\}\}([^"]+)">')
ENTRY = "meeting.js"


def module_graph(root: Path) -> dict[str, set[str]]:
    """Module path (relative to root) → the modules it imports, from the entry module."""
    graph: dict[str, set[str]] = {}
    todo = [ENTRY]
    while todo:
        name = todo.pop()
        if name in graph:
            continue
        source = (root / name).read_text(encoding="utf-8")
        deps = set()
        for m in IMPORT.finditer(source):
            spec = m.group(1) or m.group(2)
            assert spec.startswith("."), f"{name} imports {spec!r}: only relative imports (no CDN, no bare names)"
            target = ((root / name).parent / spec).resolve()
            assert target.is_file(), f"{name} imports {spec!r}, which is not a file"
            deps.add(target.relative_to(root.resolve()).as_posix())
        graph[name] = deps
        todo.extend(deps)
    return graph


def test_every_imported_module_is_preloaded_and_exists() -> None:
    root = static_dir()
    graph = module_graph(root)
    shell = (root / "meeting.html").read_text(encoding="utf-8")
    preloaded = set(PRELOAD.findall(shell))
    loaded = set(graph) - {ENTRY}
    assert loaded - preloaded == set(), "modules without a modulepreload link in meeting.html"
    assert preloaded - loaded == set(), "modulepreload links to modules the page never imports"
    assert f'<script type="module" src="{{{{static}}}}{ENTRY}"></script>' in shell


def test_modules_stay_small() -> None:
    root = static_dir()
    sizes = {name: len((root / name).read_text(encoding="utf-8").splitlines()) for name in module_graph(root)}
    assert sizes[ENTRY] < 300, f"the entry module has {sizes[ENTRY]} lines"
    big = {name: n for name, n in sizes.items() if n > 320}
    assert not big, f"modules over ~300 lines: {big}"


async def test_static_assets_are_served_from_memory_with_etags() -> None:
    import httpx
    from starlette.applications import Starlette
    from starlette.routing import Mount

    from meetkit.web.pages import STATIC_PREFIX, StaticAssets

    app = Starlette(routes=[Mount(STATIC_PREFIX.rstrip("/"), StaticAssets(static_dir()))])
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://ui") as client:
        first = await client.get(f"{STATIC_PREFIX}features/session/state.js")
        assert first.status_code == 200
        assert "javascript" in first.headers["content-type"]
        assert first.text == (static_dir() / "features/session/state.js").read_text(encoding="utf-8")
        again = await client.get(f"{STATIC_PREFIX}features/session/state.js",
                                 headers={"If-None-Match": first.headers["etag"]})
        assert again.status_code == 304 and again.content == b""
        assert (await client.get(f"{STATIC_PREFIX}nope.js")).status_code == 404
        assert (await client.get(f"{STATIC_PREFIX}../pages.py")).status_code == 404
        assert (await client.post(f"{STATIC_PREFIX}meeting.js")).status_code == 405
