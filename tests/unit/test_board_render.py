"""domain/board_render.py: an Excalidraw scene exported to SVG and PNG, whatever a browser put in it."""

from __future__ import annotations

import io
import math
import xml.etree.ElementTree as ET
from typing import Any

from PIL import Image

from meetkit.domain.board_png import to_png
from meetkit.domain.board_render import BoardFile
from meetkit.domain.board_svg import to_svg

SVG = "{http://www.w3.org/2000/svg}"
RED = (255, 0, 0, 255)
WHITE = (255, 255, 255, 255)


def element(kind: str, **fields: Any) -> dict[str, Any]:
    """An element as Excalidraw 0.18 sends it, with ``fields`` over the defaults."""
    base: dict[str, Any] = {
        "id": "e1", "type": kind, "x": 0, "y": 0, "width": 100, "height": 50, "angle": 0,
        "strokeColor": "#1e1e1e", "backgroundColor": "transparent", "fillStyle": "solid", "strokeWidth": 2,
        "strokeStyle": "solid", "roughness": 1, "opacity": 100, "roundness": None, "isDeleted": False,
    }
    if kind in ("line", "arrow", "freedraw"):
        base.update(points=[[0, 0], [50, 20], [100, 50]], startArrowhead=None, endArrowhead=None)
    if kind == "text":
        base.update(text="hello", fontSize=20, fontFamily=5, textAlign="left", lineHeight=1.25)
    base.update(fields)
    return base


def png(elements: list[Any], files: dict[str, BoardFile] | None = None, **options: Any) -> Image.Image:
    image = Image.open(io.BytesIO(to_png(elements, files or {}, **options)))
    image.load()
    return image.convert("RGBA")


def parse(document: str) -> ET.Element:
    return ET.fromstring(document)  # noqa: S314 - the document is this module's own output, the thing under test


def svg(elements: list[Any], files: dict[str, BoardFile] | None = None) -> ET.Element:
    return parse(to_svg(elements, files or {}))


def tiny_png(colour: tuple[int, int, int]) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (4, 4), colour).save(out, format="PNG")
    return out.getvalue()


def test_svg_draws_each_element_once() -> None:
    root = svg([
        element("rectangle", roundness={"type": 3}),
        element("ellipse", x=200),
        element("freedraw", y=100),
        element("text", text="hello\nworld", y=200),
        element("arrow", y=300, endArrowhead="arrow"),
    ])
    assert root.tag == f"{SVG}svg"
    assert len(root.findall(f"{SVG}g")) == 5
    assert len(list(root.iter(f"{SVG}rect"))) == 2  # the background and the rectangle
    assert len(list(root.iter(f"{SVG}ellipse"))) == 1
    assert len(list(root.iter(f"{SVG}polyline"))) == 3  # freedraw, the arrow's shaft and its head
    assert [span.text for span in root.iter(f"{SVG}tspan")] == ["hello", "world"]
    assert float(next(r for r in root.iter(f"{SVG}rect") if r.get("rx")).get("rx", "0")) > 0
    view = [float(v) for v in root.get("viewBox", "").split()]
    assert view == [-20, -20, 340, 390]  # x 0..300, y 0..350, plus the margin


def test_rotation_is_about_the_centre_and_widens_the_bounds() -> None:
    root = svg([element("rectangle", width=100, height=100, angle=math.pi / 4)])
    assert root.find(f"{SVG}g").get("transform") == "rotate(45 50 50)"  # type: ignore[union-attr]
    assert float(root.get("width", "0")) == round(100 * math.sqrt(2) + 40, 2)
    assert png([element("rectangle", width=100, height=100, angle=math.pi / 4)]).size == (181, 181)


def test_text_cannot_become_markup() -> None:
    hostile = '</text><script>alert(1)</script><text x="1">'
    root = svg([element("text", text=hostile + "\x00\x1b\ud800")])
    assert not [node for node in root.iter() if node.tag.endswith("script")]
    assert [span.text for span in root.iter(f"{SVG}tspan")] == [hostile]


def test_a_colour_outside_the_allowlist_falls_back() -> None:
    document = to_svg([element("rectangle", strokeColor="red;stroke:url(javascript:x)",
                               backgroundColor='"/><script>')], {})
    assert "javascript" not in document and "script" not in document
    shape = parse(document).find(f"{SVG}g/{SVG}rect")
    assert shape is not None
    assert shape.get("stroke") == "#1e1e1e"
    assert shape.get("fill") == "none"
    named = svg([element("rectangle", strokeColor="Red", backgroundColor="#00ff0088")]).find(f"{SVG}g/{SVG}rect")
    assert named is not None
    assert (named.get("stroke"), named.get("fill"), named.get("fill-opacity")) == ("#ff0000", "#00ff00", "0.53")


def test_png_has_the_bounds_and_draws_a_solid_fill() -> None:
    image = png([element("rectangle", backgroundColor="#ff0000", fillStyle="hachure", strokeColor="#ff0000")])
    assert image.size == (140, 90)
    assert image.getpixel((70, 45)) == RED
    assert image.getpixel((5, 5)) == WHITE
    assert png([element("rectangle")], background="transparent").getpixel((5, 5)) == (0, 0, 0, 0)


def test_opacity_blends_with_what_is_below() -> None:
    image = png([element("rectangle", backgroundColor="#ff0000", opacity=50)])
    r, g, b, a = image.getpixel((70, 45))  # type: ignore[misc]
    assert (r, a) == (255, 255) and 120 <= g <= 135 and 120 <= b <= 135


def test_dashed_strokes_and_text_draw() -> None:
    image = png([
        element("rectangle", strokeStyle="dashed", strokeWidth=4),
        element("text", text="Hi there", x=0, y=100, fontSize=40, width=200, height=50, strokeColor="#0000ff"),
    ])
    top_edge = [image.getpixel((x, 20)) for x in range(20, 120)]
    assert WHITE in top_edge and (0x1E, 0x1E, 0x1E, 255) in top_edge  # gaps and dashes
    glyphs = {image.getpixel((x, y)) for x in range(20, 220) for y in range(120, 170)}
    assert (0, 0, 255, 255) in glyphs


def test_a_deleted_element_is_neither_drawn_nor_counted_in_the_bounds() -> None:
    scene = [element("rectangle"), element("ellipse", x=5000, y=5000, isDeleted=True)]
    assert png(scene).size == (140, 90)
    assert len(svg(scene).findall(f"{SVG}g")) == 1


def test_an_image_is_pasted() -> None:
    files = {"f1": BoardFile("image/png", tiny_png((0, 0, 255)))}
    scene = [element("image", width=40, height=40, fileId="f1")]
    assert png(scene, files).getpixel((40, 40)) == (0, 0, 255, 255)
    href = svg(scene, files).find(f"{SVG}g/{SVG}image")
    assert href is not None and href.get("href", "").startswith("data:image/png;base64,iVBOR")


def test_a_missing_or_broken_image_draws_the_placeholder() -> None:
    grey = (0xE9, 0xEC, 0xEF, 255)
    scene = [element("image", width=40, height=40, fileId="f1")]
    for files in ({}, {"f1": BoardFile("image/png", b"<svg onload=alert(1)>")},
                  {"f1": BoardFile("image/svg+xml", b"<svg/>")}):
        assert png(scene, files).getpixel((40, 40)) == grey
        assert svg(scene, files).find(f"{SVG}g/{SVG}image") is None  # bytes that aren't what the type says stay out
    # the right signature, but no picture: only decoding finds out, so only the PNG shows the placeholder
    truncated = {"f1": BoardFile("image/png", b"\x89PNG\r\n\x1a\n" + b"\x00" * 40)}
    assert png(scene, truncated).getpixel((40, 40)) == grey


def test_an_image_too_large_to_decode_is_refused() -> None:
    out = io.BytesIO()
    Image.new("1", (8000, 6000)).save(out, format="PNG")  # 48 megapixels, a few kilobytes on the wire
    scene = [element("image", width=40, height=40, fileId="f1")]
    assert png(scene, {"f1": BoardFile("image/png", out.getvalue())}).getpixel((40, 40)) == (0xE9, 0xEC, 0xEF, 255)


def test_hostile_elements_are_skipped_without_raising() -> None:
    nan = float("nan")
    skipped: list[Any] = [
        None, "rectangle", 5, [1, 2], {},
        element("rectangle", x=1e9), element("rectangle", y=-1e7), element("rectangle", x=nan),
        element("rectangle", x="10"), element("rectangle", width="100"), element("rectangle", height=float("inf")),
        element("rectangle", width=-5), element("rectangle", x=10**400), element("rectangle", x=True),
        element(["rectangle"]), element("embeddable"), element("selection"),  # type: ignore[arg-type]
        element("line", points=[[1, "a"], None, [nan, 2], "xx", [1e300, 1], [1]]),
        element("arrow", points="M0 0"), element("text", text=None), element("text", text=" \n "),
        element("rectangle", isDeleted="yes"),
    ]
    assert png(skipped).size == (200, 100)
    assert svg(skipped).get("viewBox") == "0 0 200 100"
    odd_but_drawable = [
        element("rectangle", angle="1", strokeWidth=nan, opacity="50", strokeStyle=["dashed"], roundness=[],
                strokeColor=None, backgroundColor={"r": 1}, fillStyle=7),
        element("line", points=[[0, 0], [1, "a"], None, [30, 30], [float("inf"), 2]], endArrowhead={"x": 1}),
        element("text", text="x" * 50_000, fontSize="huge", fontFamily=[3], textAlign={}, lineHeight=-1,
                width=nan, height=None),
        element("text", text="\U0001f600 \u202e", fontSize=1000, width=10, height=10, angle=1),
        element("freedraw", points=[[i % 7, i] for i in range(20_000)], strokeStyle="dotted"),
        element("image", fileId=["f1"]),
    ]
    assert png(odd_but_drawable).size[0] > 200
    assert len(svg(odd_but_drawable).findall(f"{SVG}g")) == len(odd_but_drawable)


def test_the_png_stays_within_max_side() -> None:
    scene = [element("rectangle", width=9960, height=4960, backgroundColor="#ff0000")]
    assert png(scene, max_side=500).size == (500, 250)
    assert png([element("rectangle")], scale=2).size == (280, 180)
    assert png([element("rectangle", x=-5e5, width=1e6, height=10)], scale=10).size[0] == 4096
    assert max(png(scene, scale=3, max_side=1000).size) == 1000
