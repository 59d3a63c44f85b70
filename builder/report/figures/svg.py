"""A very small SVG writer: deterministic output, every piece of text escaped."""

from __future__ import annotations

from xml.sax.saxutils import escape, quoteattr


def _n(value: float) -> str:
    text = f"{value:.2f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


class Svg:
    def __init__(self, width: float, height: float, css_class: str, title: str, desc: str, ident: str):
        self.width, self.height = width, height
        self.css_class, self.title, self.desc, self.ident = css_class, title, desc, ident
        self.parts: list[str] = []

    def text(self, x: float, y: float, content: str, cls: str = "", anchor: str = "start") -> None:
        attrs = f' x="{_n(x)}" y="{_n(y)}"'
        if anchor != "start":
            attrs += f' text-anchor="{anchor}"'
        if cls:
            attrs += f' class="{cls}"'
        self.parts.append(f"<text{attrs}>{escape(content)}</text>")

    def line(self, x1: float, y1: float, x2: float, y2: float, cls: str = "") -> None:
        c = f' class="{cls}"' if cls else ""
        self.parts.append(f'<line x1="{_n(x1)}" y1="{_n(y1)}" x2="{_n(x2)}" y2="{_n(y2)}"{c}/>')

    def rect(self, x: float, y: float, w: float, h: float, cls: str = "") -> None:
        c = f' class="{cls}"' if cls else ""
        self.parts.append(f'<rect x="{_n(x)}" y="{_n(y)}" width="{_n(w)}" height="{_n(h)}"{c}/>')

    def circle(self, cx: float, cy: float, r: float, cls: str = "") -> None:
        c = f' class="{cls}"' if cls else ""
        self.parts.append(f'<circle cx="{_n(cx)}" cy="{_n(cy)}" r="{_n(r)}"{c}/>')

    def polygon(self, points: list[tuple[float, float]], cls: str = "") -> None:
        c = f' class="{cls}"' if cls else ""
        pts = " ".join(f"{_n(x)},{_n(y)}" for x, y in points)
        self.parts.append(f'<polygon points="{pts}"{c}/>')

    def render(self, style: str) -> str:
        """One line per element and no blank lines, so the SVG can sit inside Markdown as raw HTML."""
        head = (
            f'<svg xmlns="http://www.w3.org/2000/svg" class={quoteattr(self.css_class)} '
            f'viewBox="0 0 {_n(self.width)} {_n(self.height)}" width="{_n(self.width)}" '
            f'height="{_n(self.height)}" style="max-width:100%;height:auto" role="img" aria-labelledby="{self.ident}-title {self.ident}-desc">'
        )
        lines = [
            head,
            f'<title id="{self.ident}-title">{escape(self.title)}</title>',
            f'<desc id="{self.ident}-desc">{escape(self.desc)}</desc>',
            f"<style>{style}</style>",
            *self.parts,
            "</svg>",
        ]
        return "\n".join(lines) + "\n"
