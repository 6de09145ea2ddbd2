"""The Pillow half of board_render: draws the shapes board_render read, checked and placed, into a PNG."""

from __future__ import annotations

import io
import itertools
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache

from PIL import Image, ImageDraw, ImageFont

from meetkit.domain.board_render import (
    RGBA,
    WHITE,
    BoardFile,
    Element,
    Point,
    Shape,
    arrowheads,
    bounds,
    colour_of,
    outline,
    placeholder,
    rotate,
    shapes,
)

MAX_IMAGE_PIXELS = 40_000_000  # a decoded picture above this is a decompression bomb, not a photo on a board
_FORMATS = ("PNG", "JPEG", "GIF", "WEBP")
_MAX_DASHES = 50_000  # finer than this a dash pattern can't be seen, and a solid line costs far less


@dataclass(frozen=True)
class _View:
    left: float
    top: float
    k: float  # pixels per scene unit

    def px(self, points: Iterable[Point]) -> list[Point]:
        return [((x - self.left) * self.k, (y - self.top) * self.k) for x, y in points]


def paint(shapes: Sequence[Shape], origin: Point, size: tuple[int, int], k: float, background: RGBA | None) -> bytes:
    """PNG bytes of ``size`` pixels showing ``shapes``; ``origin`` is the scene point at the top-left pixel."""
    canvas = Image.new("RGBA", size, background or (0, 0, 0, 0))
    view = _View(origin[0], origin[1], k)
    for shape in shapes:
        if shape.kind == "text":
            _text(canvas, shape, view)
        elif shape.kind != "image":
            _vector(canvas, shape, view)
        elif not _image(canvas, shape, view):
            _vector(canvas, placeholder(shape), view)
    out = io.BytesIO()
    canvas.save(out, format="PNG")
    return out.getvalue()


def _moved(points: Iterable[Point], dx: float, dy: float) -> list[Point]:
    return [(x + dx, y + dy) for x, y in points]


def _vector(canvas: Image.Image, shape: Shape, view: _View) -> None:
    closed = not shape.points
    ring = view.px(rotate(outline(shape) if closed else shape.points, shape.centre, shape.angle))
    heads = [view.px(rotate(head, shape.centre, shape.angle)) for head in arrowheads(shape)] if shape.points else []
    width = max(1, round(shape.stroke_width * view.k))
    colours = [c for c in (shape.fill, shape.stroke) if c is not None]
    if not colours:
        return
    if all(c[3] == 255 for c in colours):
        _draw(ImageDraw.Draw(canvas), shape, ring, heads, closed, width, view.k)
        return
    # Pillow replaces the RGBA pixels it draws rather than blending them, so a translucent shape is drawn
    # on a layer the size of its own box and composited; a layer per shape the size of the canvas would cost
    # far more on a big board
    every = ring + [p for head in heads for p in head]
    pad = width + 2
    x0, y0 = max(0, math.floor(min(p[0] for p in every)) - pad), max(0, math.floor(min(p[1] for p in every)) - pad)
    x1 = min(canvas.width, math.ceil(max(p[0] for p in every)) + pad)
    y1 = min(canvas.height, math.ceil(max(p[1] for p in every)) + pad)
    if x0 >= x1 or y0 >= y1:
        return
    layer = Image.new("RGBA", (x1 - x0, y1 - y0))
    _draw(ImageDraw.Draw(layer), shape, _moved(ring, -x0, -y0), [_moved(h, -x0, -y0) for h in heads], closed,
          width, view.k)
    canvas.alpha_composite(layer, dest=(x0, y0))


def _draw(draw: ImageDraw.ImageDraw, shape: Shape, ring: list[Point], heads: list[list[Point]], closed: bool,
          width: int, k: float) -> None:
    if shape.fill is not None and len(ring) >= 3:
        draw.polygon(ring, fill=shape.fill)
    if shape.stroke is None or shape.stroke_width <= 0:
        return
    path = [*ring, ring[0]] if closed else ring
    if shape.dash is None:
        draw.line(path, fill=shape.stroke, width=width, joint="curve")
    else:
        for piece in _dashes(path, shape.dash, k):
            draw.line(piece, fill=shape.stroke, width=width)
    for head in heads:
        draw.line(head, fill=shape.stroke, width=width, joint="curve")


def _dashes(path: list[Point], dash: tuple[float, float], k: float) -> list[list[Point]]:
    """``path`` cut into the drawn pieces of the dash pattern, which runs on across corners."""
    on, off = max(dash[0] * k, 1.0), max(dash[1] * k, 2.0)
    if sum(math.dist(a, b) for a, b in itertools.pairwise(path)) / (on + off) > _MAX_DASHES:
        return [path]
    pieces: list[list[Point]] = []
    current, drawing, left = [path[0]], True, on
    for a, b in itertools.pairwise(path):
        length, done = math.dist(a, b), 0.0
        while length - done > left:
            done += left
            t = done / length
            point = (a[0] + (b[0] - a[0]) * t, a[1] + (b[1] - a[1]) * t)
            if drawing:
                pieces.append([*current, point])
            current, drawing = [point], not drawing
            left = on if drawing else off
        left -= length - done
        if drawing:
            current.append(b)
    if drawing and len(current) >= 2:
        pieces.append(current)
    return pieces


@lru_cache(maxsize=32)
def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    return ImageFont.load_default(size=size)


def _text(canvas: Image.Image, shape: Shape, view: _View) -> None:
    if shape.stroke is None:
        return
    size = min(max(1, round(shape.font_size * view.k)), 1000)
    step, bw, bh = shape.font_size * shape.line_height * view.k, shape.w * view.k, shape.h * view.k
    # the layer is centred on the box; text overflowing it by more than half the canvas diagonal is cut,
    # which bounds the layer (and the glyphs rendered) whatever length and size a browser sent
    reach = math.hypot(*canvas.size) / 2
    lines = [line[: int(2 * reach / max(size * 0.25, 1)) + 1] for line in shape.lines[: int(2 * reach / step) + 1]]
    try:
        font = _font(size)
        widths = [font.getlength(line) for line in lines]
        half_w = min(max(bw / 2, max(widths) - bw / 2, max(widths) / 2), reach)
        half_h = min(max(bh / 2, len(lines) * step - bh / 2), reach)
        layer = Image.new("RGBA", (math.ceil(2 * half_w) + 2, math.ceil(2 * half_h) + 2))
        left, top = layer.width / 2 - bw / 2, layer.height / 2 - bh / 2
        draw = ImageDraw.Draw(layer)
        for i, (line, width) in enumerate(zip(lines, widths, strict=True)):
            shift = {"left": 0.0, "center": (bw - width) / 2, "right": bw - width}[shape.align]
            draw.text((left + shift, top + i * step + (step - size) / 2), line, fill=shape.stroke, font=font)
    except (OSError, ValueError, UnicodeError, MemoryError):  # a glyph or size FreeType refuses: leave it out
        return
    _place(canvas, layer, shape, view)


def _image(canvas: Image.Image, shape: Shape, view: _View) -> bool:
    """Paste the picture; False when it can't be read, for the caller to draw the placeholder instead."""
    if shape.file is None:
        return False
    size = (round(shape.w * view.k), round(shape.h * view.k))
    if min(size) < 1:
        return True
    try:
        with Image.open(io.BytesIO(shape.file.data), formats=_FORMATS) as source:
            # open() reads only the header: refuse a bomb here, before convert() decodes it
            if source.width * source.height > MAX_IMAGE_PIXELS:
                return False
            picture = source.convert("RGBA").resize(size, Image.Resampling.LANCZOS)
    except Exception:  # Pillow reports a broken file through many exception types
        return False
    if shape.opacity < 1:
        picture.putalpha(picture.getchannel("A").point([round(a * shape.opacity) for a in range(256)]))
    _place(canvas, picture, shape, view)
    return True


def _place(canvas: Image.Image, layer: Image.Image, shape: Shape, view: _View) -> None:
    """Composite ``layer``, drawn upright, turned and centred on the shape's centre; what falls outside is cut."""
    if shape.angle:
        layer = layer.rotate(-math.degrees(shape.angle), resample=Image.Resampling.BICUBIC, expand=True)
    cx, cy = view.px([shape.centre])[0]
    left, top = round(cx - layer.width / 2), round(cy - layer.height / 2)
    x0, y0 = max(left, 0), max(top, 0)
    x1, y1 = min(left + layer.width, canvas.width), min(top + layer.height, canvas.height)
    if x0 < x1 and y0 < y1:
        canvas.alpha_composite(layer, dest=(x0, y0), source=(x0 - left, y0 - top, x1 - left, y1 - top))


def to_png(elements: Sequence[Element], files: Mapping[str, BoardFile], *, background: str = "#ffffff",
           scale: float = 1.0, max_side: int = 4096) -> bytes:
    """The scene as PNG bytes, ``scale`` pixels per scene unit, the longer side shrunk to at most ``max_side``."""
    if not (math.isfinite(scale) and scale > 0) or max_side < 1:
        raise ValueError("scale must be a positive number and max_side at least 1")
    drawn = shapes(elements, files)
    left, top, w, h = bounds(drawn)
    k = min(scale, max_side / max(w, h))
    size = (min(max_side, max(1, round(w * k))), min(max_side, max(1, round(h * k))))
    return paint(drawn, (left, top), size, k, colour_of(background, WHITE))
