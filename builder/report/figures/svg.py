"""A very small SVG writer: deterministic output, every piece of text escaped."""

from __future__ import annotations

from xml.sax.saxutils import escape, quoteattr


def coord(value: float) -> str:
    """A coordinate as the SVG text writes it: at most two decimals, no trailing zeros, never "-0"."""
    text = f"{value:.2f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


CAPTION_LINE = 17.0  # the title lines above a figure
CAPTION_CHAR = (8.0, 7.0)  # generous widths of a character of the first (bold, 13px) and the other lines


def wrap_words(text: str, width: float, char: float) -> list[str]:
    """`text` in lines of at most `width` (estimated at `char` per character; the SVG has no font metrics)."""
    limit = max(12, int(width / char))
    lines: list[str] = []
    current = ""
    for word in text.split(" "):
        if current and len(current) + 1 + len(word) > limit:
            lines.append(current)
            current = word
        else:
            current = f"{current} {word}".strip()
    return lines + ([current] if current else [])


class Svg:
    def __init__(
        self,
        width: float,
        height: float,
        css_class: str,
        title: str,
        desc: str,
        ident: str,
        caption: list[str] | None = None,
    ):
        """`caption`: title lines printed above the figure (the first in bold), so that the figure file still
        says what it shows once it is downloaded and seen apart from its page; the drawing moves down."""
        self.width, self.height = width, height
        self.css_class, self.title, self.desc, self.ident = css_class, title, desc, ident
        self.caption = list(caption or [])
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

    def _caption(self) -> tuple[list[str], float]:
        """The caption's text elements and the height they take above the drawing (at negative y, so that
        the drawing keeps its coordinates: the view box grows upwards)."""
        pieces = [
            ("cap" if i == 0 else "cap2", piece)
            for i, line in enumerate(self.caption)
            for piece in wrap_words(line, self.width - 4, CAPTION_CHAR[min(i, 1)])
        ]
        offset = len(pieces) * CAPTION_LINE + 10 if pieces else 0.0
        out = [
            f'<text x="0" y="{coord(-offset + (i + 1) * CAPTION_LINE - 4)}" class="{cls}">{escape(piece)}</text>'
            for i, (cls, piece) in enumerate(pieces)
        ]
        return out, offset

    def render(self, style: str) -> str:
        """One line per element and no blank lines, so the SVG can sit inside Markdown as raw HTML."""
        caption, offset = self._caption()
        height = self.height + offset
        head = (
            f'<svg xmlns="http://www.w3.org/2000/svg" class={quoteattr(self.css_class)} '
            f'viewBox="0 {coord(-offset)} {coord(self.width)} {coord(height)}" width="{coord(self.width)}" '
            f'height="{coord(height)}" style="max-width:100%;height:auto" role="img" aria-labelledby="{self.ident}-title {self.ident}-desc">'
        )
        if caption:
            root = "." + self.css_class.split()[0]  # the figure's own rules, which never reach the page
            style += f"{root} text.cap{{font-weight:700;font-size:13px}}{root} text.cap2{{font-size:12px}}"
        body = [*caption, *self.parts]
        lines = [
            head,
            f'<title id="{self.ident}-title">{escape(self.title)}</title>',
            f'<desc id="{self.ident}-desc">{escape(self.desc)}</desc>',
            f"<style>{style}</style>",
            *body,
            "</svg>",
        ]
        return "\n".join(lines) + "\n"
