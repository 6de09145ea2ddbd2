"""The SVG export of a whiteboard scene (board_render reads and checks the elements): only numbers
formatted here, allowlisted colours, escaped text and base64 go into the document."""

from __future__ import annotations

import base64
import math
from collections.abc import Iterable, Mapping, Sequence
from xml.sax.saxutils import escape

from .board_render import RGBA, WHITE, BoardFile, Element, Point, Shape, arrowheads, bounds, colour_of, outline, shapes


def _n(value: float) -> str:
    text = f"{value:.2f}".rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


def _paint(attribute: str, colour: RGBA | None) -> str:
    if colour is None:
        return f'{attribute}="none"'
    painted = f'{attribute}="#{colour[0]:02x}{colour[1]:02x}{colour[2]:02x}"'
    return painted if colour[3] == 255 else f'{painted} {attribute}-opacity="{_n(colour[3] / 255)}"'


def _points(points: Iterable[Point]) -> str:
    return " ".join(f"{_n(x)},{_n(y)}" for x, y in points)


def _svg(s: Shape) -> str:
    solid = f'{_paint("stroke", s.stroke)} stroke-width="{_n(s.stroke_width)}" stroke-linecap="round" ' \
            'stroke-linejoin="round"'
    line = f'{solid} stroke-dasharray="{_n(s.dash[0])} {_n(s.dash[1])}"' if s.dash else solid
    fill, box = _paint("fill", s.fill), f'x="{_n(s.x)}" y="{_n(s.y)}" width="{_n(s.w)}" height="{_n(s.h)}"'
    extra = ""
    if s.kind == "rectangle":
        body = f'<rect {box} rx="{_n(s.radius)}" {fill} {line}/>'
    elif s.kind == "ellipse":
        body = f'<ellipse cx="{_n(s.centre[0])}" cy="{_n(s.centre[1])}" rx="{_n(s.w / 2)}" ry="{_n(s.h / 2)}" ' \
               f'{fill} {line}/>'
    elif s.kind == "diamond":
        body = f'<polygon points="{_points(outline(s))}" {fill} {line}/>'
    elif s.kind == "image" and s.file:
        data = base64.b64encode(s.file.data).decode("ascii")
        body = f'<image {box} preserveAspectRatio="none" href="data:{s.file.mime};base64,{data}"/>'
        extra = f' opacity="{_n(s.opacity)}"' if s.opacity < 1 else ""
    elif s.kind == "text":
        anchor, x = {"left": ("start", s.x), "center": ("middle", s.x + s.w / 2), "right": ("end", s.x + s.w)}[s.align]
        step = s.font_size * s.line_height
        spans = "".join(f'<tspan x="{_n(x)}" y="{_n(s.y + i * step + step / 2 + 0.35 * s.font_size)}">{escape(text)}'
                        "</tspan>" for i, text in enumerate(s.lines))
        family = "monospace" if s.mono else "sans-serif"
        body = f'<text font-family="{family}" font-size="{_n(s.font_size)}" {_paint("fill", s.stroke)} ' \
               f'text-anchor="{anchor}" style="white-space:pre">{spans}</text>'
    else:
        tag = "polygon" if s.fill else "polyline"
        body = f'<{tag} points="{_points(s.points)}" {fill} {line}/>' + "".join(
            f'<polyline points="{_points(head)}" fill="none" {solid}/>' for head in arrowheads(s))
    if s.angle:
        extra += f' transform="rotate({_n(math.degrees(s.angle))} {_n(s.centre[0])} {_n(s.centre[1])})"'
    return f"<g{extra}>{body}</g>"


def to_svg(elements: Sequence[Element], files: Mapping[str, BoardFile], *, background: str = "#ffffff") -> str:
    """A standalone SVG document of the scene; images are embedded as base64 data: URIs."""
    drawn = shapes(elements, files)
    left, top, w, h = bounds(drawn)
    paper = colour_of(background, WHITE)
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="{_n(left)} {_n(top)} {_n(w)} {_n(h)}" '
           f'width="{_n(w)}" height="{_n(h)}">']
    if paper is not None:
        out.append(f'<rect x="{_n(left)}" y="{_n(top)}" width="{_n(w)}" height="{_n(h)}" {_paint("fill", paper)}/>')
    out.extend(_svg(s) for s in drawn)
    out.append("</svg>")
    return "\n".join(out)
