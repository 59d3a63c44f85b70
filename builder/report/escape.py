"""Context-specific escaping: every value from the data reaches a page, a figure, a citation or a script
through exactly one of these functions, chosen by where it lands.

- `md`: text inside Markdown (and the raw HTML Markdown passes through): HTML special characters, Markdown
  punctuation, attribute lists (`{: ...}`) and every kind of line break are neutralised, and a value that
  opens a line cannot start a block (list, admonition, tab, definition, code block).
- `attr`: text inside an HTML attribute or a navigation title printed as HTML.
- `url`: a link target; only http(s) is produced, `doi:` becomes a doi.org address, and everything that could
  end a Markdown link or an HTML attribute is percent-encoded.
- `r_comment`, `r_string`: text inside an R comment or an R string literal.
- `bibtex`, `ris`, `link`: one field of a BibTeX entry, one line of a RIS record, a link printed in them.
- `csv_text`: a text cell of a CSV download, which a spreadsheet must not read as a formula.

SVG text is escaped by builder.report.figures.svg; control characters never get this far (they are refused
when the data are validated, see builder.contract.common).
"""

from __future__ import annotations

import html
import re

# Everything a Markdown parser, a browser or R may take as the end of a line.
LINE_BREAKS = re.compile(r"[\r\n\v\f\x1c-\x1e\x85\u2028\u2029]+")

_MD_SPECIAL = re.compile(r"([\\`*_\[\]|#])")
_BRACES = {"{": "&#123;", "}": "&#125;"}
# A value that opens a line could otherwise start a block: a list item (- + 1. 1) followed by a space), a
# thematic break (---), a definition (: ), an admonition or a collapsible block (!!! ???), a content tab
# (===), a fenced block (~~~); and four spaces would start a code block.
_BLOCK_START = re.compile(r"^([ \t]*)(?:([-+:])(?=[ \t]|$|\2)|([!?=~])(?=\3)|(\d+)([.)])(?=[ \t]|$))")


def one_line(text: object) -> str:
    """The text with every run of line breaks replaced by one space."""
    return LINE_BREAKS.sub(" ", "" if text is None else str(text))


def _block_start(match: re.Match) -> str:
    lead = " " if match.group(1) else ""  # up to three spaces are no code block; one is enough
    char = match.group(2) or match.group(3)
    if char:
        return f"{lead}&#{ord(char)};"
    return f"{lead}{match.group(4)}&#{ord(match.group(5))};"


def md(text: object) -> str:
    """Free text from the data for Markdown and HTML: it is shown as text, never as markup."""
    if text is None:
        return ""
    escaped = html.escape(one_line(text), quote=False)
    escaped = _MD_SPECIAL.sub(r"\\\1", escaped)
    escaped = re.sub(r"[{}]", lambda m: _BRACES[m.group(0)], escaped)
    escaped = _BLOCK_START.sub(_block_start, escaped, count=1)
    return re.sub(r"^[ \t]{2,}", " ", escaped)


def attr(text: object) -> str:
    """Text for an HTML attribute value (quoted with double quotes) or for HTML that Markdown passes on."""
    escaped = html.escape(one_line(text), quote=True)
    return re.sub(r"[{}]", lambda m: _BRACES[m.group(0)], escaped)


_URL_SAFE = re.compile(r"[^A-Za-z0-9\-._~:/?#@!$&+,;=%]")
_HTTP = re.compile(r"^https?://", re.IGNORECASE)


class UnsafeUrl(ValueError):
    pass


def url(value: object) -> str:
    """A link target from the data: http(s) only (`doi:X` becomes https://doi.org/X), with every character
    that could end a Markdown link or an HTML attribute percent-encoded."""
    text = str(value).strip()
    if text.lower().startswith("doi:"):
        text = "https://doi.org/" + text[4:]
    if not _HTTP.match(text):
        raise UnsafeUrl(f"not an http(s) or doi: link: {text[:80]!r}")
    return _URL_SAFE.sub(lambda m: "".join(f"%{b:02X}" for b in m.group(0).encode("utf-8")), text)


def doi_url(doi: object) -> str:
    return url("doi:" + str(doi))


def r_comment(text: object) -> str:
    """Text inside an R comment: on one line, so it cannot end the comment."""
    return "".join(c if c.isprintable() else " " for c in one_line(text))


def r_string(text: object) -> str:
    """An R string literal, quotes included."""
    out = []
    for c in str(text):
        if c == "\\":
            out.append("\\\\")
        elif c == '"':
            out.append('\\"')
        elif c == "\n":
            out.append("\\n")
        elif not c.isprintable() or c in "\u2028\u2029":
            out.append(f"\\u{{{ord(c):04x}}}")
        else:
            out.append(c)
    return '"' + "".join(out) + '"'


_BIBTEX = {
    "\\": r"\textbackslash{}",
    "{": r"\textbraceleft{}",
    "}": r"\textbraceright{}",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
    "%": r"\%",
    "&": r"\&",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
}


def bibtex(text: object) -> str:
    """One BibTeX field value (inside braces): on one line, braces always balanced, TeX specials escaped."""
    return "".join(_BIBTEX.get(c, c) for c in one_line(text).strip())


def link(value: object) -> str:
    """A link that is printed rather than followed (a citation's URL, possibly relative): on one line, with
    every character that could end a BibTeX field or a Markdown link percent-encoded."""
    return _URL_SAFE.sub(lambda m: "".join(f"%{b:02X}" for b in m.group(0).encode("utf-8")), one_line(value).strip())


def ris(text: object) -> str:
    """The value of one RIS line: a line break would start a new tag."""
    return one_line(text).strip()


# What makes a spreadsheet read a cell as a formula (or, for tab and carriage return, hides what starts one).
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_text(text: object) -> str:
    """A text cell of a CSV download. One that begins like a formula (=, +, -, @, a tab or a carriage
    return) gets a leading apostrophe, which spreadsheets show as text and never evaluate: a label such as
    `=HYPERLINK("https://…")` or `@SUM(…)` cannot run when the download is opened (CSV injection).
    Numbers are written as numbers, not through this function, so a negative estimate stays a number."""
    value = str(text)
    return "'" + value if value.startswith(_FORMULA_START) else value


def csv_cell(value: str) -> str:
    """A cell of a CSV written as text: a number as it is (a negative one stays a number), anything else
    through csv_text."""
    try:
        float(value)
    except ValueError:
        return csv_text(value)
    return value


def csv_read_text(cell: str) -> str:
    """The text csv_text was given: the apostrophe it put before a formula-like start taken off again."""
    return cell[1:] if cell.startswith("'") and cell[1:].startswith(_FORMULA_START) else cell
