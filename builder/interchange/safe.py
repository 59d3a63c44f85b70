"""Reading untrusted RevMan files: XML without entities or a DTD, zip archives with bounded sizes.

XML is parsed with the standard library's expat, driven by hand so that a document type declaration or an
entity declaration stops the parse: RevMan writes neither, and they are what external-entity and
entity-expansion attacks ("billion laughs") need. Zip members are read into memory by name, never extracted,
and every size is bounded before and while it is read, so an archive cannot fill the disk or the memory.
"""

from __future__ import annotations

import io
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from xml.etree.ElementTree import Element, TreeBuilder
from xml.parsers import expat

from builder.errors import DataError, Problem

MAX_FILE = 64 * 1024 * 1024  # a RevMan file or a data package; real ones are well under a megabyte
MAX_MEMBER = 64 * 1024 * 1024  # one member of an archive, uncompressed
MAX_TOTAL = 256 * 1024 * 1024  # all members read from one archive, uncompressed
MAX_MEMBERS = 2000
MAX_RATIO = 200  # uncompressed / compressed size of a member; text compresses about 10 times


class _Refused(Exception):
    pass


@dataclass
class Xml:
    root: Element
    lines: dict[int, int] = field(default_factory=dict)  # id(element) -> line of its start tag

    def line(self, element: Element) -> int | None:
        return self.lines.get(id(element))


def parse_xml(raw: bytes, name: str) -> Xml:
    """The element tree of `raw`, with the line of every element; DataError if it is not well-formed XML
    or declares a DTD or entities."""
    builder = TreeBuilder()
    lines: dict[int, int] = {}
    parser = expat.ParserCreate()
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)

    def refuse(*_args) -> None:
        raise _Refused("a document type declaration or an entity (RevMan files have neither)")

    def start(tag: str, attrs: dict[str, str]) -> None:
        lines[id(builder.start(tag, attrs))] = parser.CurrentLineNumber

    parser.StartDoctypeDeclHandler = refuse
    parser.EntityDeclHandler = refuse
    parser.UnparsedEntityDeclHandler = refuse
    parser.ExternalEntityRefHandler = refuse  # type: ignore[assignment]
    parser.StartElementHandler = start
    parser.EndElementHandler = builder.end
    parser.CharacterDataHandler = builder.data
    try:
        parser.Parse(raw, True)
        root = builder.close()
    except _Refused as exc:
        raise DataError([Problem(name, parser.CurrentLineNumber, "(file)", f"refused: {exc}")]) from None
    except expat.ExpatError as exc:
        raise DataError(
            [Problem(name, exc.lineno, "(file)", f"not well-formed XML ({expat.errors.messages[exc.code]})")]
        ) from None
    # Keep the elements alive with their ids: the tree holds them for as long as the Xml lives.
    return Xml(root, lines)


def read_limited(path, name: str) -> bytes:
    """The bytes of a file given on the command line, refusing what is not a regular file or is too large."""
    try:
        size = path.stat().st_size
        if not path.is_file():
            raise DataError([Problem(name, None, "(file)", "is not a regular file")])
        if size > MAX_FILE:
            raise DataError([Problem(name, None, "(file)", f"is {size} bytes; at most {MAX_FILE} are read")])
        return path.read_bytes()
    except FileNotFoundError:
        raise DataError([Problem(name, None, "(file)", "does not exist")]) from None
    except OSError as exc:
        raise DataError([Problem(name, None, "(file)", f"cannot be read ({exc.strerror})")]) from None


def _safe_member_name(member: str) -> bool:
    path = PurePosixPath(member.replace("\\", "/"))
    return not path.is_absolute() and ".." not in path.parts and ":" not in member and "\x00" not in member


class Archive:
    """The members of a zip archive held in memory, read with bounded sizes; names checked, never extracted."""

    def __init__(self, raw: bytes, name: str, budget: list[int] | None = None):
        self.name = name
        self._budget = budget if budget is not None else [MAX_TOTAL]
        try:
            self._zip = zipfile.ZipFile(io.BytesIO(raw))
            infos = self._zip.infolist()
        except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, EOFError) as exc:
            raise DataError([Problem(name, None, "(file)", f"is not a readable zip archive ({exc})")]) from None
        if len(infos) > MAX_MEMBERS:
            raise DataError([Problem(name, None, "(file)", f"has {len(infos)} members; at most {MAX_MEMBERS}")])
        bad = [i.filename for i in infos if not _safe_member_name(i.filename)]
        if bad:
            raise DataError(
                [Problem(name, None, bad[0], "refused: a member name that is absolute or climbs out with '..'")]
            )
        self.members = [i for i in infos if not i.is_dir()]

    def names(self) -> list[str]:
        return [i.filename for i in self.members]

    def read(self, member: str) -> bytes:
        info = self._zip.getinfo(member)
        where = f"{self.name}!{member}"
        if info.flag_bits & 0x1:
            raise DataError([Problem(where, None, "(file)", "is encrypted")])
        limit = min(MAX_MEMBER, self._budget[0])
        if info.file_size > limit or info.file_size > MAX_RATIO * max(info.compress_size, 1024):
            raise DataError([Problem(where, None, "(file)", f"would unpack to {info.file_size} bytes; refused")])
        try:
            with self._zip.open(info) as stream:
                data = stream.read(limit + 1)  # never more than the limit, whatever the header says
        except (zipfile.BadZipFile, zlib.error, NotImplementedError, EOFError, OSError) as exc:
            raise DataError([Problem(where, None, "(file)", f"cannot be unpacked ({exc})")]) from None
        if len(data) > limit:
            raise DataError([Problem(where, None, "(file)", "unpacks to more than its header says; refused")])
        self._budget[0] -= len(data)
        return data

    def nested(self, member: str) -> Archive:
        """A zip inside this one (RevMan Web puts the data package in the download), sharing its budget."""
        return Archive(self.read(member), f"{self.name}!{member}", self._budget)
