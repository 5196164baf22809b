"""engine.text.readers on real files: encodings, .docx, .pdf, and every way a file can be bad."""

import codecs
import io
import os
import zipfile
from collections.abc import Callable
from pathlib import Path

import docx
import pypdf
import pytest
from docx.document import Document as DocxDocument
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.core.errors import DocumentReadError
from engine.core.model import Document
from engine.text.input_files import find_input_files, iter_input_files
from engine.text.readers import read_document
from tests.pdfwriter import pdf_file

SPANISH = "Diagnóstico: neumonía – €"


def pdf_with_pages(pages: list[list[str]]) -> bytes:
    """A minimal valid PDF whose pages carry these lines as a Helvetica text layer."""
    font = b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>"
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>", b"", font]
    kids = []
    for lines in pages:
        shown = " ".join(f"({line}) Tj T*" for line in lines)
        stream = f"BT /F1 12 Tf 72 720 Td 14 TL {shown} ET".encode("cp1252")
        kids.append(f"{len(objects) + 1} 0 R")
        page = (
            "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 3 0 R >> >>"
            f" /Contents {len(objects) + 2} 0 R >>"
        )
        objects += [page.encode(), b"<< /Length %d >>\nstream\n%b\nendstream" % (len(stream), stream)]
    objects[1] = f"<< /Type /Pages /Kids [{' '.join(kids)}] /Count {len(kids)} >>".encode()
    return pdf_file(objects)


def write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def docx_bytes(document: DocxDocument) -> bytes:
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def read_error(path: Path, **options: int) -> str:
    """The one-line message read_document gives for a bad file, checked to name the file."""
    with pytest.raises(DocumentReadError) as caught:
        read_document(path, "es", **options)
    message = str(caught.value)
    assert str(path) in message
    assert "\n" not in message
    error = caught.value
    assert error.__cause__ is None  # no library exception chained in
    assert error.__context__ is None or error.__suppress_context__
    return message


# -- plain text ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "data",
    [
        SPANISH.encode("utf-8"),
        codecs.BOM_UTF8 + SPANISH.encode("utf-8"),
        SPANISH.encode("utf-16"),  # BOM in native order
        codecs.BOM_UTF16_BE + SPANISH.encode("utf-16-be"),
        SPANISH.encode("utf-32"),
        SPANISH.encode("cp1252"),
    ],
    ids=["utf-8", "utf-8-bom", "utf-16", "utf-16-be-bom", "utf-32", "cp1252"],
)
def test_text_encodings_decode_to_the_same_text(tmp_path: Path, data: bytes) -> None:
    document = read_document(write(tmp_path / "note.txt", data), "es")
    assert document.text == SPANISH


def test_bytes_undefined_in_cp1252_fall_back_to_latin1(tmp_path: Path) -> None:
    data = "Niño con fiebre alta y tos ".encode("latin-1") + bytes([0x81, 0x8D, 0x8F, 0x90, 0x9D])
    text = read_document(write(tmp_path / "old.txt", data), "es").text
    assert text == "Niño con fiebre alta y tos \x81\x8d\x8f\x90\x9d"


def test_text_is_kept_exactly_as_decoded(tmp_path: Path) -> None:
    text = "Línea uno\r\nLínea dos\rtres\n\tfin  "
    document = read_document(write(tmp_path / "crlf.txt", text.encode("utf-8")), "es")
    assert document.text == text


def test_document_id_source_and_language(tmp_path: Path) -> None:
    path = write(tmp_path / "case-17.txt", b"Fiebre.")
    assert read_document(path, "de") == read_document(path, "de", "case-17")
    document = read_document(path, "de", doc_id="other")
    assert (document.id, document.language, document.source) == ("other", "de", str(path))


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.binary(max_size=64))
def test_any_bytes_give_a_document_or_a_read_error(tmp_path: Path, data: bytes) -> None:
    path = write(tmp_path / "fuzz.txt", data)
    try:
        document = read_document(path, "es")
    except DocumentReadError as error:
        assert str(path) in str(error)
    else:
        assert document.text.strip()


# -- .docx and .pdf -----------------------------------------------------------------------------


def test_docx_paragraphs_and_table_cells_in_document_order(tmp_path: Path) -> None:
    document = docx.Document()
    document.add_paragraph("Informe de alta")
    table = document.add_table(rows=3, cols=2)
    cells = [cell for row in table.rows for cell in row.cells]
    for cell, text in zip(cells, ["Código", "Diagnóstico", "J18.9", "Neumonía", "", ""], strict=True):
        cell.text = text
    merged = table.cell(2, 0).merge(table.cell(2, 1))
    merged.text = "Fila combinada"
    document.add_paragraph("Firmado")
    path = write(tmp_path / "alta.docx", docx_bytes(document))
    text = read_document(path, "es").text
    assert text == "Informe de alta\nCódigo\nDiagnóstico\nJ18.9\nNeumonía\nFila combinada\nFirmado"


def test_pdf_text_layer_pages_joined_by_blank_line(tmp_path: Path) -> None:
    pages = [["Diagnóstico: neumonía", "Tos €"], ["Página dos"]]
    path = write(tmp_path / "informe.pdf", pdf_with_pages(pages))
    text = read_document(path, "es").text
    assert text == "Diagnóstico: neumonía\nTos €\n\n\nPágina dos\n"


def test_pdf_with_empty_user_password_is_read(tmp_path: Path) -> None:
    writer = pypdf.PdfWriter(clone_from=io.BytesIO(pdf_with_pages([["Fiebre"]])))
    writer.encrypt("", owner_password="owner", algorithm="RC4-128")
    buffer = io.BytesIO()
    writer.write(buffer)
    assert read_document(write(tmp_path / "restricted.pdf", buffer.getvalue()), "es").text.strip() == "Fiebre"


# -- bad files ----------------------------------------------------------------------------------


def test_missing_file(tmp_path: Path) -> None:
    assert "file not found" in read_error(tmp_path / "nowhere.txt")


def test_folder_instead_of_file(tmp_path: Path) -> None:
    folder = tmp_path / "notes.txt"
    folder.mkdir()
    assert "is a folder" in read_error(folder)


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="needs POSIX permissions, not root")
def test_unreadable_file(tmp_path: Path) -> None:
    path = write(tmp_path / "locked.txt", b"Fiebre")
    path.chmod(0)
    try:
        assert "permission denied" in read_error(path)
    finally:
        path.chmod(0o600)


def test_unsupported_extension(tmp_path: Path) -> None:
    message = read_error(write(tmp_path / "notes.rtf", b"{\\rtf1 Fiebre}"))
    assert "unsupported file type '.rtf'" in message
    assert ".docx, .pdf, .txt" in message


@pytest.mark.parametrize(("data", "problem"), [(b"", "empty (0 bytes)"), (b" \r\n\t \n", "only whitespace")])
def test_empty_and_whitespace_only(tmp_path: Path, data: bytes, problem: str) -> None:
    assert problem in read_error(write(tmp_path / "blank.txt", data))


def test_whitespace_only_docx(tmp_path: Path) -> None:
    document = docx.Document()
    document.add_paragraph("   ")
    assert "only whitespace" in read_error(write(tmp_path / "blank.docx", docx_bytes(document)))


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        (b"Fiebre\x00\x00alta", "contains NUL bytes"),
        (b"\x7fELF\x02\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x02\x00>\x00", "contains NUL bytes"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "contains NUL bytes"),
        (bytes(range(1, 9)) * 8 + b"text", "mostly control characters"),
    ],
    ids=["nul", "elf", "png", "controls"],
)
def test_binary_file_named_txt(tmp_path: Path, data: bytes, problem: str) -> None:
    message = read_error(write(tmp_path / "data.txt", data))
    assert "binary" in message and problem in message


def test_broken_utf16_after_bom(tmp_path: Path) -> None:
    data = codecs.BOM_UTF16_LE + b"F\x00i\x00\x00\xd8"  # ends inside a lone high surrogate
    assert "not valid UTF-16 despite its byte-order mark" in read_error(write(tmp_path / "broken.txt", data))


def test_too_large_text(tmp_path: Path) -> None:
    path = write(tmp_path / "long.txt", b"Fiebre. " * 10)
    assert "too large: 80 bytes of text (limit 50 bytes)" in read_error(path, max_bytes=50)
    assert read_document(path, "es", max_bytes=80).text.startswith("Fiebre")


def test_too_large_docx_text(tmp_path: Path) -> None:
    document = docx.Document()
    document.add_paragraph("Fiebre. " * 100)
    path = write(tmp_path / "big.docx", docx_bytes(document))
    assert "too large: at least 800 bytes of text (limit 500 bytes)" in read_error(path, max_bytes=500)


def test_too_large_is_said_in_megabytes(tmp_path: Path) -> None:
    path = write(tmp_path / "huge.txt", b"x" * 2_500_000)
    assert "too large: 2.5 MB of text (limit 1.0 MB)" in read_error(path, max_bytes=1_000_000)


def test_random_bytes_named_docx(tmp_path: Path) -> None:
    path = write(tmp_path / "fake.docx", os.urandom(512))
    assert "damaged or not a Word .docx file" in read_error(path)


def test_zip_without_document_xml(tmp_path: Path) -> None:
    document = docx.Document()
    document.add_paragraph("Fiebre")
    source = zipfile.ZipFile(io.BytesIO(docx_bytes(document)))
    path = tmp_path / "gutted.docx"
    with zipfile.ZipFile(path, "w") as target:
        for item in source.infolist():
            if item.filename != "word/document.xml":
                target.writestr(item, source.read(item))
    message = read_error(path)
    assert "damaged or not a Word .docx file" in message and "word/document.xml" in message


def test_docx_with_broken_xml(tmp_path: Path) -> None:
    document = docx.Document()
    document.add_paragraph("Fiebre")
    source = zipfile.ZipFile(io.BytesIO(docx_bytes(document)))
    path = tmp_path / "broken.docx"
    with zipfile.ZipFile(path, "w") as target:
        for item in source.infolist():
            broken = item.filename == "word/document.xml"
            target.writestr(item, source.read(item)[:200] if broken else source.read(item))
    assert "damaged or not a Word .docx file" in read_error(path)


@pytest.mark.parametrize(
    "data",
    [b"this is not a PDF at all", b"%PDF-1.4\n1 0 obj\n<< /Type", pdf_with_pages([["Fiebre"]])[:-60]],
    ids=["garbage", "header-only", "truncated"],
)
def test_damaged_pdf(tmp_path: Path, data: bytes) -> None:
    assert "damaged or not a PDF file" in read_error(write(tmp_path / "bad.pdf", data))


def test_password_protected_pdf(tmp_path: Path) -> None:
    writer = pypdf.PdfWriter(clone_from=io.BytesIO(pdf_with_pages([["Fiebre"]])))
    writer.encrypt("secret", algorithm="RC4-128")
    buffer = io.BytesIO()
    writer.write(buffer)
    assert "password-protected" in read_error(write(tmp_path / "secret.pdf", buffer.getvalue()))


def test_pdf_without_text_layer(tmp_path: Path) -> None:
    path = write(tmp_path / "scan.pdf", pdf_with_pages([[], []]))
    assert "no text layer (probably a scanned image)" in read_error(path)


# -- input files --------------------------------------------------------------------------------


def test_folders_expand_to_sorted_visible_supported_files(tmp_path: Path) -> None:
    for name in [
        "b.txt",
        "a.docx",
        "c.PDF",
        "sub/d.txt",
        "sub/deeper/e.pdf",
        "skip.rtf",
        ".hidden.txt",
        "~$a.docx",
        ".git/f.txt",
    ]:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(b"x")
    loose = tmp_path / "loose.rtf"
    found = iter_input_files([tmp_path / "sub", loose, tmp_path, tmp_path / "missing.txt"])
    relative = [path.relative_to(tmp_path).as_posix() for path in found]
    assert relative == [
        "sub/d.txt",
        "sub/deeper/e.pdf",
        "loose.rtf",  # given explicitly: read_document will report it
        "a.docx",
        "b.txt",
        "c.PDF",
        "missing.txt",
    ]


# -- hostile files: bounded, and nothing silently lost -------------------------------------------


def test_half_utf8_half_cp1252_decodes_each_part_and_warns(tmp_path: Path) -> None:
    data = "Niño con neumonía. ".encode() + "Señora con diabetes y hipertensión.".encode("cp1252")
    document = read_document(write(tmp_path / "mixed.txt", data), "es")
    assert document.text == "Niño con neumonía. Señora con diabetes y hipertensión."
    [warning] = document.warnings
    assert warning.startswith("[ICD-W101]") and "mixed.txt" in warning and "UTF-8" in warning
    assert Document.from_dict(document.to_dict()) == document  # the warning is saved with the session


def test_plain_cp1252_and_utf8_give_no_warning(tmp_path: Path) -> None:
    for name, encoding in (("a.txt", "cp1252"), ("b.txt", "utf-8")):
        assert read_document(write(tmp_path / name, SPANISH.encode(encoding)), "es").warnings == ()


def docx_with_body_xml(edit: Callable[[str], str]) -> bytes:
    """A real .docx whose word/document.xml went through ``edit``."""
    document = docx.Document()
    document.add_paragraph("PLACEHOLDER")
    source = zipfile.ZipFile(io.BytesIO(docx_bytes(document)))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as target:
        for item in source.infolist():
            data = source.read(item)
            target.writestr(item, edit(data.decode()).encode() if item.filename == "word/document.xml" else data)
    return out.getvalue()


def test_docx_external_entity_keeps_the_text_after_it_and_warns(tmp_path: Path) -> None:
    data = docx_with_body_xml(lambda xml: xml.replace("PLACEHOLDER", "Antes &ext; hipertensión arterial").replace(
        "<w:document", '<!DOCTYPE w:document [<!ENTITY ext SYSTEM "file:///etc/hostname">]><w:document', 1))
    document = read_document(write(tmp_path / "entity.docx", data), "es")
    assert document.text == "Antes  hipertensión arterial"
    [warning] = document.warnings
    assert "ICD-W101" in warning and "&ext;" in warning


def test_docx_zip_bomb_is_refused_by_its_declared_size_before_unpacking(tmp_path: Path) -> None:
    document = docx.Document()
    document.add_paragraph("Fiebre")
    data = bytearray(docx_bytes(document))
    # Raise the uncompressed size the central directory declares for word/document.xml to 3 GB.
    entry = data.rindex(b"PK\x01\x02", 0, data.index(b"word/document.xml", data.index(b"PK\x01\x02")) + 1)
    data[entry + 24 : entry + 28] = (3_000_000_000).to_bytes(4, "little")
    message = read_error(write(tmp_path / "bomb.docx", bytes(data)))
    assert "too large when unpacked" in message and "declare 3000." in message


def test_docx_that_unpacks_past_the_limit_is_refused_while_unpacking(tmp_path: Path) -> None:
    data = docx_with_body_xml(lambda xml: xml.replace("PLACEHOLDER", "Fiebre " * 200_000))
    message = read_error(write(tmp_path / "big.docx", data), max_bytes=100_000)
    assert "too large when unpacked" in message


def test_a_file_name_that_is_not_utf8_gets_a_printable_id(tmp_path: Path) -> None:
    path = write(Path(os.fsdecode(os.fsencode(tmp_path) + b"/caso-\xff.txt")), b"Fiebre")
    document = read_document(path, "es")
    assert document.id == "caso-\ufffd"
    assert document.id.encode("utf-8")  # writable anywhere


def test_folders_nested_deeper_than_the_recursion_limit(tmp_path: Path) -> None:
    deep = tmp_path
    for _ in range(1200):  # one by one: Path.mkdir(parents=True) itself recurses
        deep /= "d"
        deep.mkdir()
    (deep / "bottom.txt").write_bytes(b"Fiebre")
    try:
        assert iter_input_files([tmp_path]) == [deep / "bottom.txt"]
    finally:  # bottom up: pytest's clean-up (shutil.rmtree) would recurse 1,200 deep
        (deep / "bottom.txt").unlink()
        while deep != tmp_path:
            deep.rmdir()
            deep = deep.parent


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="needs POSIX permissions, not root")
def test_an_unreadable_subfolder_is_reported_and_counted(tmp_path: Path) -> None:
    (tmp_path / "ok.txt").write_bytes(b"Fiebre")
    locked = tmp_path / "locked"
    locked.mkdir()
    (locked / "hidden-from-us.txt").write_bytes(b"Fiebre")
    locked.chmod(0)
    try:
        found = find_input_files([tmp_path])
    finally:
        locked.chmod(0o700)
    assert found.files == [tmp_path / "ok.txt"]
    [error] = found.unreadable
    assert error.code == "ICD-E104" and str(locked) in str(error)


def test_docx_runs_hyperlinks_tabs_and_breaks_read_as_python_docx_reads_them(tmp_path: Path) -> None:
    runs = ('<w:r><w:t xml:space="preserve">Ver </w:t></w:r><w:hyperlink r:id="x"><w:r><w:t>enlace</w:t></w:r>'
            "<w:r><w:tab/><w:t>dos</w:t></w:r></w:hyperlink><w:r><w:noBreakHyphen/><w:br/><w:t>fin</w:t></w:r>")
    data = docx_with_body_xml(lambda xml: xml.replace("<w:r><w:t>PLACEHOLDER</w:t></w:r>", runs))
    expected = "\n".join(p.text for p in docx.Document(io.BytesIO(data)).paragraphs)
    assert read_document(write(tmp_path / "runs.docx", data), "es").text == expected == "Ver enlace\tdos-\nfin"
