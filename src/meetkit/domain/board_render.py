"""An Excalidraw (0.18) whiteboard scene drawn to SVG and PNG on the server, for the export after a meeting.

Elements come from browsers, so every field is untrusted: a value of the wrong type, a non-finite number or a
coordinate beyond ±1e6 drops the element, or falls back to Excalidraw's default where the field is only style.
Colours pass an allowlist and text is cut to XML-legal characters and escaped, so the SVG holds only numbers
formatted here, allowlisted colours, escaped text and base64: nothing a browser sent can add markup.
The drawing is plain (no hand-drawn roughness, straight arrows): a record of the board, not a pixel copy of it.
The SVG is written by board_svg, the PNG drawn by board_png."""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from .board import MAX_ELEMENTS as BOARD_MAX_ELEMENTS

Element = Mapping[str, Any]
RGBA = tuple[int, int, int, int]
Point = tuple[float, float]

MARGIN = 20.0
LIMIT = 1e6  # no real board is this large; beyond it a number only serves to make the export huge
MAX_ELEMENTS = BOARD_MAX_ELEMENTS  # a whole board (domain/board.py): these bound the work one export can ask for
MAX_POINTS = 10_000
MAX_TEXT = 10_000
DEFAULT_STROKE: RGBA = (0x1E, 0x1E, 0x1E, 255)
WHITE: RGBA = (255, 255, 255, 255)
PLACEHOLDER_FILL: RGBA = (0xE9, 0xEC, 0xEF, 255)
PLACEHOLDER_STROKE: RGBA = (0xAD, 0xB5, 0xBD, 255)
_FRAME_STROKE: RGBA = (0xBB, 0xBB, 0xBB, 255)

_NAMED: dict[str, tuple[int, int, int]] = {
    "black": (0, 0, 0), "white": (255, 255, 255), "red": (255, 0, 0), "green": (0, 128, 0),
    "blue": (0, 0, 255), "yellow": (255, 255, 0), "orange": (255, 165, 0), "purple": (128, 0, 128),
    "gray": (128, 128, 128), "grey": (128, 128, 128),
}
_HEX = re.compile(r"#(?:[0-9a-f]{3}|[0-9a-f]{6}|[0-9a-f]{8})")
_NOT_XML = re.compile(r"[^\t\n\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")  # an SVG with these won't parse
_SIGNATURES = {"image/png": b"\x89PNG\r\n\x1a\n", "image/jpeg": b"\xff\xd8\xff", "image/gif": b"GIF8",
               "image/webp": b"RIFF"}
_BOXES = ("rectangle", "ellipse", "diamond", "image", "frame", "magicframe")
_MONO_FONTS = (3, 8)  # Cascadia and Comic Shanns in 0.18's FONT_FAMILY; the rest read as sans-serif


@dataclass(frozen=True)
class BoardFile:
    """An image placed on the board."""

    mime: str  # image/png, image/jpeg, image/gif or image/webp
    data: bytes


@dataclass(frozen=True)
class Shape:
    """One element as read and checked: scene coordinates, the element's opacity folded into colour alpha."""

    kind: str  # rectangle, ellipse, diamond, line, arrow, freedraw, text or image
    x: float
    y: float
    w: float
    h: float
    angle: float = 0.0
    stroke: RGBA | None = DEFAULT_STROKE
    fill: RGBA | None = None
    stroke_width: float = 2.0
    dash: tuple[float, float] | None = None
    radius: float = 0.0
    points: tuple[Point, ...] = ()  # absolute, before rotation; only line, arrow and freedraw have them
    heads: tuple[bool, bool] = (False, False)  # arrowhead at the start, at the end
    lines: tuple[str, ...] = ()
    font_size: float = 20.0
    mono: bool = False
    align: str = "left"
    line_height: float = 1.25
    file: BoardFile | None = None
    opacity: float = 1.0

    @property
    def centre(self) -> Point:
        # for linear elements too: Excalidraw rotates them about the centre of their points' box
        return (self.x + self.w / 2, self.y + self.h / 2)


def _num(value: object) -> float | None:
    # NaN and infinities fail the range too; checking it before float() also spares float(10**400) its raise
    if isinstance(value, bool) or not isinstance(value, int | float) or not -LIMIT <= value <= LIMIT:
        return None
    return float(value)


def _ranged(value: object, default: float, low: float, high: float) -> float:
    number = _num(value)
    return number if number is not None and low <= number <= high else default


def colour_of(value: object, default: RGBA | None) -> RGBA | None:
    """``value`` as RGBA, None for transparent, ``default`` for anything outside the allowlist."""
    if not isinstance(value, str):
        return default
    text = value.strip().lower()
    if text == "transparent":
        return None
    if text in _NAMED:
        return (*_NAMED[text], 255)
    if not _HEX.fullmatch(text):
        return default
    digits = text[1:] if len(text) > 4 else "".join(ch * 2 for ch in text[1:])
    channels = [int(digits[i : i + 2], 16) for i in range(0, len(digits), 2)]
    return (channels[0], channels[1], channels[2], channels[3] if len(channels) == 4 else 255)


def _faded(colour: RGBA | None, opacity: float) -> RGBA | None:
    return None if colour is None else (*colour[:3], round(colour[3] * opacity))


def _usable(file: object) -> BoardFile | None:
    """The file when its bytes start the way its allowlisted type says, so the data: URI can't be anything else."""
    if not isinstance(file, BoardFile) or not isinstance(file.mime, str) or not isinstance(file.data, bytes):
        return None
    signature = _SIGNATURES.get(file.mime)
    if signature is None or not file.data.startswith(signature):
        return None
    return file if file.mime != "image/webp" or file.data[8:12] == b"WEBP" else None


def placeholder(shape: Shape) -> Shape:
    """The light grey box drawn where an image is missing or unreadable."""
    return replace(shape, kind="rectangle", stroke=_faded(PLACEHOLDER_STROKE, shape.opacity),
                   fill=_faded(PLACEHOLDER_FILL, shape.opacity), stroke_width=1.0, dash=None, radius=0.0, file=None)


def _shape(element: object, files: Mapping[str, BoardFile]) -> Shape | None:
    if not isinstance(element, Mapping) or element.get("isDeleted") not in (None, False):
        return None
    kind, x, y = element.get("type"), _num(element.get("x")), _num(element.get("y"))
    if not isinstance(kind, str) or x is None or y is None:
        return None
    opacity = _ranged(element.get("opacity"), 100.0, 0.0, 100.0) / 100
    width = _ranged(element.get("strokeWidth"), 2.0, 0.0, 100.0)
    style = element.get("strokeStyle")
    dash = (8.0, 8.0 + width) if style == "dashed" else (1.5, 6.0 + width) if style == "dotted" else None
    # fillStyle (hachure, cross-hatch, zigzag, solid) is drawn as a solid fill for any of them: without
    # rough.js there is no hatching, and a solid fill keeps the colour the author chose
    base = Shape(kind, x, y, 0.0, 0.0, angle=(_num(element.get("angle")) or 0.0) % math.tau,
                 stroke=_faded(colour_of(element.get("strokeColor"), DEFAULT_STROKE), opacity),
                 fill=_faded(colour_of(element.get("backgroundColor"), None), opacity),
                 stroke_width=width, dash=dash, opacity=opacity)
    if kind in ("line", "arrow", "freedraw"):
        return _linear(base, element)
    if kind == "text":
        return _text(base, element)
    w, h = _num(element.get("width")), _num(element.get("height"))
    if kind not in _BOXES or w is None or h is None or w < 0 or h < 0:
        return None
    box = replace(base, w=w, h=h)
    if kind in ("frame", "magicframe"):
        return replace(box, kind="rectangle", stroke=_FRAME_STROKE, fill=None, stroke_width=1.0, dash=None)
    if kind == "image":
        file_id = element.get("fileId")
        file = _usable(files.get(file_id)) if isinstance(file_id, str) else None
        return replace(box, file=file) if file else placeholder(box)
    if kind == "rectangle" and element.get("roundness") is not None:
        box = replace(box, radius=min(32.0, min(w, h) / 4))  # Excalidraw's adaptive radius
    return box


def _linear(base: Shape, element: Element) -> Shape | None:
    raw = element.get("points")
    points: list[Point] = []
    if isinstance(raw, list | tuple):
        for pair in raw[:MAX_POINTS]:
            if isinstance(pair, list | tuple) and len(pair) >= 2:
                dx, dy = _num(pair[0]), _num(pair[1])
                if dx is not None and dy is not None:
                    points.append((base.x + dx, base.y + dy))
    if len(points) < 2:
        return None
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    heads = (False, False) if base.kind == "freedraw" else (
        element.get("startArrowhead") is not None, element.get("endArrowhead") is not None)
    closed = base.kind == "line" and len(points) > 2 and math.dist(points[0], points[-1]) <= 1
    return replace(base, x=min(xs), y=min(ys), w=max(xs) - min(xs), h=max(ys) - min(ys), points=tuple(points),
                   heads=heads, fill=base.fill if closed else None)


def _text(base: Shape, element: Element) -> Shape | None:
    raw = element.get("text")
    if not isinstance(raw, str):
        return None
    text = _NOT_XML.sub("", raw[:MAX_TEXT].replace("\r\n", "\n").replace("\r", "\n"))
    if not text.strip():
        return None
    lines = tuple(text.split("\n"))
    size = _ranged(element.get("fontSize"), 20.0, 1.0, 1000.0)
    spacing = _ranged(element.get("lineHeight"), 1.25, 0.5, 5.0)
    w, h = _num(element.get("width")), _num(element.get("height"))
    if w is None or w <= 0:
        w = min(max(len(line) for line in lines) * size * 0.6, LIMIT)  # about one average glyph per character
    if h is None or h <= 0:
        h = len(lines) * size * spacing
    align = element.get("textAlign")
    return replace(base, w=w, h=h, fill=None, lines=lines, font_size=size, line_height=spacing,
                   mono=element.get("fontFamily") in _MONO_FONTS,
                   align=align if align in ("left", "center", "right") else "left")


def rotate(points: Iterable[Point], about: Point, angle: float) -> list[Point]:
    """``points`` turned clockwise on screen (y grows down) by ``angle`` radians, as SVG's rotate() does."""
    if not angle:
        return list(points)
    cos, sin, (cx, cy) = math.cos(angle), math.sin(angle), about
    return [(cx + (x - cx) * cos - (y - cy) * sin, cy + (x - cx) * sin + (y - cy) * cos) for x, y in points]


def _corners(shape: Shape) -> list[Point]:
    x, y, w, h = shape.x, shape.y, shape.w, shape.h
    return [(x, y), (x + w, y), (x + w, y + h), (x, y + h)]


def outline(shape: Shape) -> list[Point]:
    """The closed outline of a rectangle, diamond or ellipse before rotation, for drawing as a polygon."""
    x, y, w, h, r = shape.x, shape.y, shape.w, shape.h, shape.radius
    if shape.kind == "diamond":
        return [(x + w / 2, y), (x + w, y + h / 2), (x + w / 2, y + h), (x, y + h / 2)]
    if shape.kind == "ellipse":
        cx, cy = shape.centre
        return [(cx + w / 2 * math.cos(i * math.tau / 48), cy + h / 2 * math.sin(i * math.tau / 48)) for i in range(48)]
    if r <= 0:
        return _corners(shape)
    corners = ((x + w - r, y + r, -90), (x + w - r, y + h - r, 0), (x + r, y + h - r, 90), (x + r, y + r, 180))
    return [(cx + r * math.cos(math.radians(start + 15 * step)), cy + r * math.sin(math.radians(start + 15 * step)))
            for cx, cy, start in corners for step in range(7)]


def arrowheads(shape: Shape) -> list[tuple[Point, Point, Point]]:
    """Two barbs and the tip at each end that asks for a head: every Excalidraw head style is drawn this way."""
    heads: list[tuple[Point, Point, Point]] = []
    if len(shape.points) < 2:
        return heads
    points = shape.points
    for wanted, tip, rest in ((shape.heads[0], points[0], points[1:]), (shape.heads[1], points[-1], points[-2::-1])):
        if not wanted:
            continue
        back = next((p for p in rest if math.dist(p, tip) > 1e-6), None)
        if back is None:
            continue
        length, size = math.dist(tip, back), min(10 + 2 * shape.stroke_width, 40)
        base = (tip[0] - (tip[0] - back[0]) / length * size, tip[1] - (tip[1] - back[1]) / length * size)
        heads.append((rotate([base], tip, -0.45)[0], tip, rotate([base], tip, 0.45)[0]))
    return heads


def shapes(elements: Sequence[Element], files: Mapping[str, BoardFile]) -> list[Shape]:
    """The elements that can be drawn, in the order given (the caller sorts by z-order)."""
    read = (_shape(element, files) for element in itertools.islice(elements, MAX_ELEMENTS))
    return [shape for shape in read if shape is not None]


def bounds(drawn: Sequence[Shape]) -> tuple[float, float, float, float]:
    """Left, top, width and height of the export: every rotated box plus the margin; 200 by 100 when empty."""
    corners = [p for s in drawn for p in rotate(s.points or _corners(s), s.centre, s.angle)]
    if not corners:
        return (0.0, 0.0, 200.0, 100.0)
    left, top = min(p[0] for p in corners) - MARGIN, min(p[1] for p in corners) - MARGIN
    return (left, top, max(p[0] for p in corners) + MARGIN - left, max(p[1] for p in corners) + MARGIN - top)
