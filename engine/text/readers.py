"""Turn a file (.txt, .docx, .pdf) into a Document, or say in one line why not.

Batches run unattended, so every failure becomes a DocumentReadError that names
the file and the problem (the batch goes on without it); no traceback from a
parsing library reaches the coder.  A file that can be read only with a caveat
(two encodings in one file, XML entities in a .docx) is read, and the caveat
travels with the document as a warning.  Mention offsets index the text exactly
as returned here, so plain text keeps its line endings untouched.

Every size is bounded before or while it is read: a text file by its size on
disk, a .docx by what its parts declare and then by the bytes actually
unpacked (a zip bomb is refused before it costs memory), extracted text as it
accumulates.
"""

from __future__ import annotations

import codecs
import io
import os
import re
import stat
import zipfile
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

import docx
import pypdf
from docx.table import Table
from docx.text.paragraph import Paragraph
from lxml import etree

from engine.core.errors import DocumentReadError, DocumentWarning
from engine.core.model import Document

if TYPE_CHECKING:
    from docx.document import Document as DocxDocument
    from docx.table import _Cell

__all__ = [
    "DEFAULT_MAX_BYTES",
    "SUPPORTED_SUFFIXES",
    "document_id",
    "read_document",
]

DEFAULT_MAX_BYTES = 20_000_000  # of text: far above any clinical note, far below memory trouble
# Limits for packed formats, as multiples of the text limit plus room for an empty document's
# own parts: a .docx or .pdf file on disk, all the parts of a .docx unpacked (pictures
# included), and its XML parts (python-docx builds a tree of them: for dense XML, about 17
# bytes of memory per byte, read at about 1 MB/s).
_MAX_FILE_FACTOR, _MAX_UNPACKED_FACTOR, _MAX_XML_FACTOR = 10, 10, 2
_PACKED_ROOM = 1_000_000

# Longest BOM first: the UTF-32-LE BOM starts with the UTF-16-LE one.
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
# C0 and C1 control characters other than tab, line feed, vertical tab, form feed, carriage return.
_CONTROL_RE = re.compile("[\x00-\x08\x0e-\x1f\x7f-\x9f]")
_MAX_CONTROL_SHARE = 0.3  # real text has next to none; binary data read as cp1252 has many


def _cp1252_char(byte: int) -> str:
    try:
        return bytes([byte]).decode("cp1252")
    except UnicodeDecodeError:  # 0x81 0x8D 0x8F 0x90 0x9D are undefined in cp1252: keep latin-1
        return chr(byte)


# latin-1 turns every byte into the code point of the same number; this table
# then gives 0x80-0x9F their cp1252 meaning.
_LATIN1_TO_CP1252 = {byte: _cp1252_char(byte) for byte in range(0x80, 0xA0)}
# One well-formed multi-byte UTF-8 character (no overlongs, no surrogates).
_UTF8_SEQUENCE = re.compile(
    rb"[\xc2-\xdf][\x80-\xbf]|\xe0[\xa0-\xbf][\x80-\xbf]|[\xe1-\xec\xee\xef][\x80-\xbf]{2}"
    rb"|\xed[\x80-\x9f][\x80-\xbf]|\xf0[\x90-\xbf][\x80-\xbf]{2}|[\xf1-\xf3][\x80-\xbf]{3}"
    rb"|\xf4[\x80-\x8f][\x80-\xbf]{2}"
)


def _cp1252_until_utf8(error: UnicodeError) -> tuple[str, int]:
    """Codec error handler: decode from the bad byte up to the next UTF-8 character as cp1252."""
    if not isinstance(error, UnicodeDecodeError):
        raise error
    data = error.object
    following = _UTF8_SEQUENCE.search(data, error.end)
    end = following.start() if following else len(data)
    return bytes(data[error.start : end]).decode("latin-1").translate(_LATIN1_TO_CP1252), end


codecs.register_error("icdlinker-cp1252", _cp1252_until_utf8)


class _Read(NamedTuple):
    text: str
    warnings: tuple[str, ...] = ()


def read_document(
    path: Path, language: str, doc_id: str | None = None, *, max_bytes: int = DEFAULT_MAX_BYTES
) -> Document:
    """Read one .txt/.docx/.pdf file; raises DocumentReadError naming the file and the problem."""
    size = _file_size(path)
    reader = _READERS.get(path.suffix.lower())
    if reader is None:
        supported = ", ".join(sorted(_READERS))
        raise _error(path, f"unsupported file type '{path.suffix or '(none)'}' (supported: {supported})")
    if size == 0:
        raise _error(path, "file is empty (0 bytes)")
    text, warnings = reader(path, max_bytes)
    if not text.strip():
        raise _error(path, "contains no text, only whitespace")
    return Document(doc_id or document_id(path), text, language, str(path), warnings)


def document_id(path: Path) -> str:
    """The file's name without its suffix, printable: bytes that are not UTF-8 become U+FFFD.

    Ids go into CSV files, tables and the window; a name with undecodable
    bytes (``os.fsdecode`` keeps them as lone surrogates) can be written nowhere.
    """
    return os.fsencode(path.stem).decode("utf-8", "replace")


def _error(path: Path, problem: str) -> DocumentReadError:
    return DocumentReadError(f"{path}: {problem}")


def _file_size(path: Path) -> int:
    try:
        info = path.stat()
    except FileNotFoundError:
        raise _error(path, "file not found") from None
    except OSError as error:
        raise _error(path, f"cannot be read ({error.strerror or error})") from None
    if stat.S_ISDIR(info.st_mode):
        raise _error(path, "is a folder, not a file")
    return info.st_size


def _read_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except PermissionError:
        raise _error(path, "permission denied (the file cannot be read)") from None
    except OSError as error:
        raise _error(path, f"cannot be read ({error.strerror or error})") from None


def _check_size(path: Path, size: int, max_bytes: int) -> None:
    if size > max_bytes:
        raise _error(path, f"too large: {_describe_size(size)} of text (limit {_describe_size(max_bytes)})")


def _describe_size(size: int) -> str:
    return f"{size / 1_000_000:.1f} MB" if size >= 100_000 else f"{size:,} bytes"


@contextmanager
def _library_errors(path: Path, problem: str) -> Iterator[None]:
    """Turn whatever a parsing library raises into one line naming the file."""
    try:
        yield
    except DocumentReadError:
        raise
    except Exception as error:  # noqa: BLE001 - damaged zips, XML and PDFs raise many unrelated types
        lines = str(error).strip().strip("\"'").splitlines()
        detail = lines[0][:200] if lines else type(error).__name__
        raise _error(path, f"{problem} ({detail})") from None


def _read_txt(path: Path, max_bytes: int) -> _Read:
    _check_size(path, _file_size(path), max_bytes)  # before reading: a huge file costs nothing
    read = _decode(path, _read_bytes(path))
    text = read.text
    if len(text) - len(_CONTROL_RE.sub("", text)) > _MAX_CONTROL_SHARE * len(text):
        raise _error(path, "looks like a binary file (mostly control characters), not text")
    return read


def _decode(path: Path, data: bytes) -> _Read:
    """BOM, else strict UTF-8, else cp1252 with latin-1 for its 5 undefined bytes.

    A file holding both well-formed UTF-8 and bytes that are not (two texts
    pasted together) is decoded part by part, each by its own encoding, and
    says so in a warning.  Written by hand rather than with a charset detector:
    the result must be deterministic and explainable, and detectors guess
    unreliably on short texts.
    """
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            try:
                return _Read(data.decode(encoding))
            except UnicodeDecodeError:
                raise _error(path, f"not valid {encoding.upper()} despite its byte-order mark") from None
    if b"\x00" in data:
        raise _error(path, "looks like a binary file (contains NUL bytes), not text")
    try:
        return _Read(data.decode("utf-8"))
    except UnicodeDecodeError:
        pass
    if not _UTF8_SEQUENCE.search(data):
        return _Read(data.decode("latin-1").translate(_LATIN1_TO_CP1252))
    warning = _warning(path, "mixes UTF-8 and Windows-1252 (cp1252) text; each part was decoded by its own "
                             "encoding, so check its accents and symbols")
    return _Read(data.decode("utf-8", "icdlinker-cp1252"), (warning,))


def _read_docx(path: Path, max_bytes: int) -> _Read:
    """Paragraphs and table cells in document order, one per line."""
    data = _read_packed(path, max_bytes)
    _check_unpacked(path, data, max_bytes)
    with _library_errors(path, "damaged or not a Word .docx file"):
        document = docx.Document(io.BytesIO(data))
        entities = _drop_entities(document.element)
        text = "\n".join(_bounded(path, _docx_lines(document), max_bytes))
    if not entities:
        return _Read(text)
    names = ", ".join(sorted(set(entities)))
    return _Read(text, (_warning(path, f"holds {len(entities)} XML entity reference(s) ({names}) that were not "
                                       "read (Word never writes them); the text around them was kept"),))


def _check_unpacked(path: Path, data: bytes, max_bytes: int) -> None:
    """Refuse a zip bomb: first by the sizes its parts declare, then by the bytes they actually unpack to."""
    limits = {kind: factor * max_bytes + _PACKED_ROOM
              for kind, factor in (("parts", _MAX_UNPACKED_FACTOR), ("XML", _MAX_XML_FACTOR))}
    with _library_errors(path, "damaged or not a Word .docx file"), zipfile.ZipFile(io.BytesIO(data)) as archive:
        members = archive.infolist()
        for kind, size in _unpacked_sizes((info, info.file_size) for info in members).items():
            if size > limits[kind]:
                raise _error(path, f"too large when unpacked: its {kind} declare {_describe_size(size)} "
                                   f"(limit {_describe_size(limits[kind])}); refused before unpacking")
        actual = {"parts": 0, "XML": 0}
        for info in members:
            with archive.open(info) as member:
                while chunk := member.read(1 << 20):
                    for kind, size in _unpacked_sizes([(info, len(chunk))]).items():
                        actual[kind] += size
                        if actual[kind] > limits[kind]:
                            raise _error(path, f"too large when unpacked: its {kind} unpack to more than "
                                               f"{_describe_size(limits[kind])}; refused")


def _unpacked_sizes(sizes: Iterable[tuple[zipfile.ZipInfo, int]]) -> dict[str, int]:
    """Bytes of all parts and of the XML parts (which python-docx parses into a tree)."""
    totals = {"parts": 0, "XML": 0}
    for info, size in sizes:
        totals["parts"] += size
        if info.filename.lower().endswith((".xml", ".rels")):
            totals["XML"] += size
    return totals


def _drop_entities(root: etree._Element) -> list[str]:
    """Remove unresolved entity references (python-docx never resolves them), keeping the text after each.

    lxml keeps ``&name;`` as a node and the text after it as that node's
    tail, which python-docx does not read: everything after the entity in its
    run would silently vanish.
    """
    names = []
    for entity in list(root.iter(etree.Entity)):
        names.append(entity.text)
        parent, previous, tail = entity.getparent(), entity.getprevious(), entity.tail or ""
        if previous is not None:
            previous.tail = (previous.tail or "") + tail
        elif parent is not None:
            parent.text = (parent.text or "") + tail
        if parent is not None:
            parent.remove(entity)
    return names


def _bounded(path: Path, pieces: Iterable[str], max_bytes: int, separator: int = 1) -> Iterator[str]:
    """``pieces`` until their text (joined by ``separator`` bytes) passes the limit: then the read stops."""
    size = -separator
    for piece in pieces:
        size += len(piece.encode("utf-8")) + separator
        if size > max_bytes:
            raise _error(path, f"too large: at least {_describe_size(size)} of text (limit "
                               f"{_describe_size(max_bytes)}); reading stopped there")
        yield piece


def _read_packed(path: Path, max_bytes: int) -> bytes:
    """A .docx or .pdf file's bytes, refused before reading if the file itself is implausibly large."""
    limit = _MAX_FILE_FACTOR * max_bytes + _PACKED_ROOM
    size = _file_size(path)
    if size > limit:
        raise _error(path, f"file too large: {_describe_size(size)} (limit {_describe_size(limit)})")
    return _read_bytes(path)


def _warning(path: Path, problem: str) -> str:
    return str(DocumentWarning(f"{path}: {problem}"))


def _docx_lines(container: DocxDocument | _Cell) -> Iterator[str]:
    for block in container.iter_inner_content():
        if isinstance(block, Paragraph):
            yield _paragraph_text(block._p)
        elif isinstance(block, Table):
            yield from _table_lines(block)


_W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
_RUN_CONTENT = tuple(_W + tag for tag in ("br", "cr", "noBreakHyphen", "ptab", "t", "tab"))


def _paragraph_text(paragraph: etree._Element) -> str:
    """``Paragraph.text`` without its two XPath compilations per run (40 µs a paragraph).

    The same children in the same order as python-docx reads them (runs, and
    runs inside hyperlinks), each turned into text by python-docx's own element
    classes; a document of a million short paragraphs takes seconds, not minutes.
    """
    pieces = []
    for child in paragraph.iterchildren(_W + "r", _W + "hyperlink"):
        for run in child.iterchildren(_W + "r") if child.tag == _W + "hyperlink" else (child,):
            pieces.extend(str(part) for part in run.iterchildren(*_RUN_CONTENT))
    return "".join(pieces)


def _table_lines(table: Table) -> Iterator[str]:
    """Each cell once, though python-docx repeats a merged cell for every grid position."""
    seen: set[object] = set()
    for row in table.rows:
        for cell in row.cells:
            if cell._tc not in seen:
                seen.add(cell._tc)
                yield from _docx_lines(cell)


def _read_pdf(path: Path, max_bytes: int) -> _Read:
    """The text layer of every page, pages separated by a blank line."""
    data = _read_packed(path, max_bytes)
    with _library_errors(path, "damaged or not a PDF file"):
        reader = pypdf.PdfReader(io.BytesIO(data))
    if reader.is_encrypted:
        with _library_errors(path, "encrypted PDF that cannot be opened"):
            opened = reader.decrypt("")  # many PDFs only restrict editing, with an empty password
        if not opened:
            raise _error(path, "PDF is password-protected; save an unprotected copy first")
    with _library_errors(path, "damaged PDF, text cannot be extracted"):
        try:
            pages = list(_bounded(path, (page.extract_text() for page in reader.pages), max_bytes, separator=2))
        except pypdf.errors.LimitReachedError:  # pypdf stops inflating a stream at 75 MB
            raise _error(path, "too large when unpacked: a compressed stream unpacks past pypdf's limit; "
                               "refused") from None
    if not "".join(pages).strip():
        raise _error(path, "PDF has no text layer (probably a scanned image); run OCR on it first")
    return _Read("\n\n".join(pages))


_READERS: dict[str, Callable[[Path, int], _Read]] = {
    ".txt": _read_txt,
    ".docx": _read_docx,
    ".pdf": _read_pdf,
}
SUPPORTED_SUFFIXES = frozenset(_READERS)
