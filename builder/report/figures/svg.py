"""A very small SVG writer: deterministic output, every piece of text escaped."""

from __future__ import annotations

from xml.sax.saxutils import escape, quoteattr


def coord(value: float) -> str:
    """A coordinate as the SVG text writes it: at most two decimals, no trailing zeros, never "-0"."""
    text = f"{value:.2f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


class Svg:
    def __init__(self, width: float, height: float, css_class: str, title: str, desc: str, ident: str):
        self.width, self.height = width, height
        self.css_class, self.title, self.desc, self.ident = css_class, title, desc, ident
        self.parts: list[str] = []

    def text(self, x: float, y: float, content: str, cls: str = "", anchor: str = "start") -> None:
        attrs = f' x="{coord(x)}" y="{coord(y)}"'
        if anchor != "start":
            attrs += f' text-anchor="{anchor}"'
        if cls:
            attrs += f' class="{cls}"'
        self.parts.append(f"<text{attrs}>{escape(content)}</text>")

    def line(self, x1: float, y1: float, x2: float, y2: float, cls: str = "") -> None:
        c = f' class="{cls}"' if cls else ""
        self.parts.append(f'<line x1="{coord(x1)}" y1="{coord(y1)}" x2="{coord(x2)}" y2="{coord(y2)}"{c}/>')

    def rect(self, x: float, y: float, w: float, h: float, cls: str = "") -> None:
        c = f' class="{cls}"' if cls else ""
        self.parts.append(f'<rect x="{coord(x)}" y="{coord(y)}" width="{coord(w)}" height="{coord(h)}"{c}/>')

    def circle(self, cx: float, cy: float, r: float, cls: str = "") -> None:
        c = f' class="{cls}"' if cls else ""
        self.parts.append(f'<circle cx="{coord(cx)}" cy="{coord(cy)}" r="{coord(r)}"{c}/>')

    def polygon(self, points: list[tuple[float, float]], cls: str = "") -> None:
        c = f' class="{cls}"' if cls else ""
        pts = " ".join(f"{coord(x)},{coord(y)}" for x, y in points)
        self.parts.append(f'<polygon points="{pts}"{c}/>')

    def render(self, style: str) -> str:
        """One line per element and no blank lines, so the SVG can sit inside Markdown as raw HTML."""
        head = (
            f'<svg xmlns="http://www.w3.org/2000/svg" class={quoteattr(self.css_class)} '
            f'viewBox="0 0 {coord(self.width)} {coord(self.height)}" width="{coord(self.width)}" '
            f'height="{coord(self.height)}" style="max-width:100%;height:auto" role="img" aria-labelledby="{self.ident}-title {self.ident}-desc">'
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
