"""Turn a file (.txt, .docx, .pdf) into a Document, or say in one line why not.

Batches run unattended, so every failure becomes a DocumentReadError that names
the file and the problem (the batch goes on without it); no traceback from a
parsing library reaches the coder.  Mention offsets index the text exactly as
returned here, so plain text keeps its line endings untouched.
"""

from __future__ import annotations

import codecs
import io
import os
import re
import stat
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import docx
import pypdf
from docx.table import Table
from docx.text.paragraph import Paragraph

from engine.errors import DocumentReadError
from engine.model import Document

if TYPE_CHECKING:
    from docx.document import Document as DocxDocument
    from docx.table import _Cell

__all__ = ["DEFAULT_MAX_BYTES", "SUPPORTED_SUFFIXES", "is_hidden", "iter_input_files", "read_document"]

DEFAULT_MAX_BYTES = 20_000_000  # of text: far above any clinical note, far below memory trouble

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
    text = reader(path, max_bytes)
    if not text.strip():
        raise _error(path, "contains no text, only whitespace")
    return Document(doc_id or path.stem, text, language, str(path))


def iter_input_files(paths: Iterable[Path]) -> list[Path]:
    """Files as given (read_document reports bad ones); folders expanded to supported files.

    Folder contents are sorted so batches run in a reproducible order; hidden
    files and folders (and Office lock files) are skipped because they are
    never documents the coder meant to submit.  A path given twice counts once.
    """
    found: list[Path] = []
    for path in paths:
        found.extend(_folder_files(path) if path.is_dir() else [path])
    return list(dict.fromkeys(found))


def is_hidden(path: Path) -> bool:
    """Dot files, Office lock files (``~$report.docx``) and files marked hidden on Windows."""
    if path.name.startswith((".", "~$")):
        return True
    try:
        attributes = getattr(path.stat(), "st_file_attributes", 0)
    except OSError:
        return False
    return bool(attributes & getattr(stat, "FILE_ATTRIBUTE_HIDDEN", 0))


def _folder_files(folder: Path) -> list[Path]:
    found: list[Path] = []
    for root, folders, files in os.walk(folder):
        here = Path(root)
        folders[:] = [name for name in folders if not is_hidden(here / name)]
        found.extend(
            here / name
            for name in files
            if Path(name).suffix.lower() in SUPPORTED_SUFFIXES and not is_hidden(here / name)
        )
    return sorted(found)


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


def _read_txt(path: Path, max_bytes: int) -> str:
    _check_size(path, _file_size(path), max_bytes)  # before reading: a huge file costs nothing
    text = _decode(path, _read_bytes(path))
    if len(_CONTROL_RE.findall(text)) > _MAX_CONTROL_SHARE * len(text):
        raise _error(path, "looks like a binary file (mostly control characters), not text")
    return text


def _decode(path: Path, data: bytes) -> str:
    """BOM, else strict UTF-8, else cp1252 with latin-1 for its 5 undefined bytes.

    Written by hand rather than with a charset detector: the result must be
    deterministic and explainable, and detectors guess unreliably on short texts.
    """
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            try:
                return data.decode(encoding)
            except UnicodeDecodeError:
                raise _error(path, f"not valid {encoding.upper()} despite its byte-order mark") from None
    if b"\x00" in data:
        raise _error(path, "looks like a binary file (contains NUL bytes), not text")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("latin-1").translate(_LATIN1_TO_CP1252)


def _read_docx(path: Path, max_bytes: int) -> str:
    """Paragraphs and table cells in document order, one per line."""
    data = _read_bytes(path)
    with _library_errors(path, "damaged or not a Word .docx file"):
        text = "\n".join(_docx_lines(docx.Document(io.BytesIO(data))))
    _check_size(path, len(text.encode("utf-8")), max_bytes)
    return text


def _docx_lines(container: DocxDocument | _Cell) -> Iterator[str]:
    for block in container.iter_inner_content():
        if isinstance(block, Paragraph):
            yield block.text
        elif isinstance(block, Table):
            yield from _table_lines(block)


def _table_lines(table: Table) -> Iterator[str]:
    """Each cell once, though python-docx repeats a merged cell for every grid position."""
    seen: set[object] = set()
    for row in table.rows:
        for cell in row.cells:
            if cell._tc not in seen:  # noqa: SLF001 - the only handle on cell identity
                seen.add(cell._tc)  # noqa: SLF001
                yield from _docx_lines(cell)


def _read_pdf(path: Path, max_bytes: int) -> str:
    """The text layer of every page, pages separated by a blank line."""
    data = _read_bytes(path)
    with _library_errors(path, "damaged or not a PDF file"):
        reader = pypdf.PdfReader(io.BytesIO(data))
    if reader.is_encrypted:
        with _library_errors(path, "encrypted PDF that cannot be opened"):
            opened = reader.decrypt("")  # many PDFs only restrict editing, with an empty password
        if not opened:
            raise _error(path, "PDF is password-protected; save an unprotected copy first")
    with _library_errors(path, "damaged PDF, text cannot be extracted"):
        pages = [page.extract_text() for page in reader.pages]
    if not "".join(pages).strip():
        raise _error(path, "PDF has no text layer (probably a scanned image); run OCR on it first")
    text = "\n\n".join(pages)
    _check_size(path, len(text.encode("utf-8")), max_bytes)
    return text


_READERS: dict[str, Callable[[Path, int], str]] = {
    ".txt": _read_txt,
    ".docx": _read_docx,
    ".pdf": _read_pdf,
}
SUPPORTED_SUFFIXES = frozenset(_READERS)
