"""Hostile inputs, generated on demand (no committed blobs): a registry of named cases.

Each case writes its files into an empty folder and returns what running the
real command line on them must give: the ``ICD-…`` lines stderr must hold (one
per bad input, nothing else), the exit code, the time and memory bound, and a
check that nothing else was lost (the good document beside it coded, an old
output file untouched).  Cases are grouped (``documents`` here; model files can
register their own group with the same decorator) so each test file runs its
own.  The same cases feed the README's reliability table.
"""

from __future__ import annotations

import csv
import io
import os
import stat
import sys
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from tests.bounded import Bounded, python_argv
from tests.pdfwriter import pdf_file

__all__ = ["CASES", "Expect", "HostileCase", "cases", "clinical_text", "hostile_case", "remove_tree"]

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "codiesp" / "train" / "text_files"
SAMPLES = Path(__file__).resolve().parents[1] / "resources" / "samples" / "es"
GOOD_TEXT = "Paciente con hipertensión arterial y neumonía basal derecha."
# Without capabilities that bypass permissions, root sees permission bits as any user does.
_AS_USER = ["setpriv", "--bounding-set=-dac_override,-dac_read_search"] if os.geteuid() == 0 else []


@dataclass(frozen=True, slots=True)
class Expect:
    """What one run of ``python -m engine ARGS`` on a case's files must give."""

    args: list[str]
    lines: tuple[tuple[str, str], ...] = ()  # (code, text in that line): exactly these ICD lines on stderr
    returncode: int = 0
    timeout_s: float = 30
    max_memory_mb: int = 2048  # address space (RLIMIT_AS), not RSS
    prefix: list[str] = field(default_factory=list)  # runs the command (a privilege drop, a limit)
    check: Callable[[Bounded], None] | None = None

    @property
    def argv(self) -> list[str]:
        return [*self.prefix, *python_argv(*self.args)]


@dataclass(frozen=True, slots=True)
class HostileCase:
    name: str
    group: str
    build: Callable[[Path], Expect]


CASES: dict[str, HostileCase] = {}


def hostile_case(name: str, group: str = "documents") -> Callable[[Callable[[Path], Expect]], Callable[[Path], Expect]]:
    """Register ``build(folder) -> Expect`` as a named case."""

    def register(build: Callable[[Path], Expect]) -> Callable[[Path], Expect]:
        assert name not in CASES, f"two cases named {name}"
        CASES[name] = HostileCase(name, group, build)
        return build

    return register


def cases(group: str) -> list[HostileCase]:
    return [case for case in CASES.values() if case.group == group]


def clinical_text(size: int, single_line: bool = False) -> str:
    """About ``size`` bytes of real clinical text (CodiEsp train, else the bundled samples), repeated."""
    sources = sorted(DATA.glob("*.txt")) or sorted(SAMPLES.glob("*.txt"))
    texts = [path.read_text(encoding="utf-8") for path in sources]
    pieces, total = [], 0
    while total < size:
        text = texts[len(pieces) % len(texts)]
        pieces.append(text)
        total += len(text.encode("utf-8")) + 2
    text = "\n\n".join(pieces) + " Straße ½"  # characters that fold to several: the scanner's slow case once
    return " ".join(text.split()) if single_line else text


def remove_tree(root: Path) -> None:
    """Delete a folder bottom up, without recursion (shutil.rmtree recurses: 1,200 levels break it)."""
    folders, pending = [], [root]
    while pending:
        folder = pending.pop()
        folder.chmod(0o700)
        folders.append(folder)
        with os.scandir(folder) as entries:
            for entry in entries:
                if entry.is_dir(follow_symlinks=False):
                    pending.append(Path(entry.path))
                else:
                    os.unlink(entry.path)
    for folder in reversed(folders):
        folder.rmdir()


# -- helpers ------------------------------------------------------------------------------------


def _good(folder: Path) -> Path:
    path = folder / "good.txt"
    path.write_text(GOOD_TEXT, encoding="utf-8")
    return path


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as stream:
        return list(csv.DictReader(stream))


def _coded(out: Path, document: str, *codes: str) -> Callable[[Bounded], None]:
    """The check that ``document`` was coded with codes starting like ``codes`` (I10, J18 …)."""

    def check(_: Bounded) -> None:
        found = {row["code"] for row in _rows(out) if Path(row["path"]).stem == document}
        for code in codes:
            assert any(c.startswith(code) for c in found), f"{document}: {code} missing from {sorted(found)}"

    return check


def _batch(folder: Path, *lines: tuple[str, str], returncode: int = 1, **bounds: float) -> Expect:
    """Code ``folder`` (the bad files and good.txt) to a CSV: the good document must be coded."""
    _good(folder)
    out = folder.parent / f"{folder.name}.csv"
    return Expect(["code", str(folder), "-o", str(out)], lines, returncode, check=_coded(out, "good", "I10"),
                  **bounds)  # type: ignore[arg-type]


def _docx(paragraphs: list[str]) -> bytes:
    import docx

    document = docx.Document()
    for text in paragraphs:
        document.add_paragraph(text)
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def _docx_with_body(edit: Callable[[bytes], bytes]) -> bytes:
    """A real .docx whose word/document.xml went through ``edit``."""
    source = zipfile.ZipFile(io.BytesIO(_docx(["PLACEHOLDER"])))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for item in source.infolist():
            data = source.read(item)
            target.writestr(item.filename, edit(data) if item.filename == "word/document.xml" else data)
    return out.getvalue()


def _with_doctype(declarations: str, body: str) -> Callable[[bytes], bytes]:
    def edit(xml: bytes) -> bytes:
        xml = xml.replace(b"PLACEHOLDER", body.encode("utf-8"))
        return xml.replace(b"<w:document", f"<!DOCTYPE w:document [{declarations}]><w:document".encode(), 1)

    return edit


def _set_declared_size(data: bytes, member: str, size: int) -> bytes:
    """Rewrite the uncompressed size a zip's local header and central directory declare for ``member``."""
    patched, name = bytearray(data), member.encode()
    # (signature, header length, offset of the uncompressed size, offset of the name's length)
    for signature, header, size_at, name_length_at in ((b"PK\x03\x04", 30, 22, 26), (b"PK\x01\x02", 46, 24, 28)):
        at = 0
        while (at := patched.find(signature, at)) != -1:
            length = int.from_bytes(patched[at + name_length_at : at + name_length_at + 2], "little")
            if patched[at + header : at + header + length] == name:
                patched[at + size_at : at + size_at + 4] = size.to_bytes(4, "little")
            at += 4
    return bytes(patched)


def _pdf(text: str | None, password: str | None = None) -> bytes:
    """A one-page PDF with ``text`` in its text layer (None: no text layer), optionally encrypted."""
    import pypdf
    from pypdf.generic import DecodedStreamObject, DictionaryObject, NameObject

    writer = pypdf.PdfWriter()
    page = writer.add_blank_page(612, 792)
    if text is not None:
        font = DictionaryObject({NameObject("/Type"): NameObject("/Font"), NameObject("/Subtype"): NameObject("/Type1"),
                                 NameObject("/BaseFont"): NameObject("/Helvetica")})
        page[NameObject("/Resources")] = DictionaryObject(
            {NameObject("/Font"): DictionaryObject({NameObject("/F1"): writer._add_object(font)})})
        stream = DecodedStreamObject()
        stream.set_data(f"BT /F1 12 Tf 72 720 Td ({text}) Tj ET".encode("latin-1"))
        page[NameObject("/Contents")] = writer._add_object(stream)
    if password:
        writer.encrypt(password, algorithm="RC4-128")
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()


# -- bad files that are refused, one line each ----------------------------------------------------


@hostile_case("bad text files: empty, blank, binary, over 20 MB, broken UTF-16")
def _bad_text(folder: Path) -> Expect:
    (folder / "empty.txt").write_bytes(b"")
    (folder / "blank.txt").write_bytes(b" \r\n\t \n")
    (folder / "program.txt").write_bytes(b"\x7fELF\x02\x01\x01" + bytes(4096))
    (folder / "controls.txt").write_bytes(bytes(range(1, 9)) * 512)
    with (folder / "huge.txt").open("wb") as stream:
        stream.truncate(25_000_000)  # sparse: refused by its size, never read
    (folder / "broken-utf16.txt").write_bytes(b"\xff\xfeF\x00i\x00\x00\xd8")
    # Beside them, encodings that are fine: they must be coded.
    (folder / "windows.txt").write_bytes("Antecedentes de hipertensión arterial.".encode("cp1252"))
    (folder / "utf16.txt").write_bytes("Antecedentes de hipertensión arterial.".encode("utf-16"))
    expect = _batch(
        folder, ("ICD-E101", "empty.txt: file is empty"), ("ICD-E101", "blank.txt: contains no text"),
        ("ICD-E101", "program.txt: looks like a binary file"), ("ICD-E101", "controls.txt: looks like a binary file"),
        ("ICD-E101", "huge.txt: too large: 25.0 MB of text (limit 20.0 MB)"),
        ("ICD-E101", "broken-utf16.txt: not valid UTF-16 despite its byte-order mark"),
    )
    out = folder.parent / f"{folder.name}.csv"

    def check(result: Bounded) -> None:
        for document in ("good", "windows", "utf16"):
            _coded(out, document, "I10")(result)

    return Expect(expect.args, expect.lines, expect.returncode, check=check)


@hostile_case("half UTF-8, half cp1252")
def _mixed(folder: Path) -> Expect:
    (folder / "mixed.txt").write_bytes("Niño con neumonía basal. ".encode()
                                       + "Señora con hipertensión arterial.".encode("cp1252"))
    out = folder.parent / "mixed.csv"

    def check(result: Bounded) -> None:
        _coded(out, "mixed", "J18", "I10")(result)
        assert "hipertensión arterial" in {row["mention"] for row in _rows(out)}

    return Expect(["code", str(folder), "-o", str(out)], (("ICD-W101", "mixed.txt: mixes UTF-8 and Windows-1252"),),
                  check=check)


@hostile_case("damaged .docx files")
def _broken_docx(folder: Path) -> Expect:
    (folder / "random.docx").write_bytes(os.urandom(2048))
    whole = _docx(["Fiebre"])
    (folder / "truncated.docx").write_bytes(whole[: len(whole) // 2])
    (folder / "broken-xml.docx").write_bytes(_docx_with_body(lambda xml: xml[:300]))
    nested = "<w:p>" * 50_000  # deeper than the XML parser follows
    (folder / "deep-xml.docx").write_bytes(_docx_with_body(lambda xml: xml.replace(b"<w:p>", nested.encode(), 1)))
    return _batch(folder, *(("ICD-E101", f"{name}.docx: damaged or not a Word .docx file")
                            for name in ("random", "truncated", "broken-xml", "deep-xml")))


@hostile_case("docx bombs: 3 GB declared, 300 MB of XML in 300 KB, sizes that lie, a billion laughs")
def _docx_bombs(folder: Path) -> Expect:
    (folder / "declared.docx").write_bytes(_set_declared_size(_docx(["Fiebre"]), "word/document.xml", 3_000_000_000))
    template = zipfile.ZipFile(io.BytesIO(_docx(["Fiebre"])))
    with zipfile.ZipFile(folder / "inflating.docx", "w", zipfile.ZIP_DEFLATED) as target:
        for item in template.infolist():
            if item.filename != "word/document.xml":
                target.writestr(item.filename, template.read(item))
        with target.open("word/document.xml", "w") as stream:
            for _ in range(300):
                stream.write(b" " * (1 << 20))
    body = b"<w:p><w:r><w:t>Fiebre</w:t></w:r></w:p>" * 1_000_000  # 39 MB of XML, declared as 2 KB
    data = _docx_with_body(lambda xml: xml.replace(b"<w:p>", body + b"<w:p>", 1))
    (folder / "liar.docx").write_bytes(_set_declared_size(data, "word/document.xml", 2048))
    laughs = '<!ENTITY a0 "ja">' + "".join(f'<!ENTITY a{i} "{f"&a{i - 1};" * 10}">' for i in range(1, 10))
    (folder / "laughs.docx").write_bytes(_docx_with_body(_with_doctype(laughs, "Fiebre &a9; fin")))
    return _batch(
        folder, ("ICD-E101", "declared.docx: too large when unpacked: its parts declare 3000"),
        ("ICD-E101", "inflating.docx: too large when unpacked: its parts declare 315"),
        ("ICD-E101", "liar.docx: damaged or not a Word .docx file (Bad CRC-32"),
        ("ICD-E101", "laughs.docx: damaged or not a Word .docx file (Maximum entity amplification"),
        max_memory_mb=1536,
    )


@hostile_case("docx with an external XML entity")
def _docx_entity(folder: Path) -> Expect:
    edit = _with_doctype('<!ENTITY ext SYSTEM "file:///etc/hostname">', "El paciente tiene antes &ext; hipertensión arterial de larga evolución.")
    (folder / "entity.docx").write_bytes(_docx_with_body(edit))
    out = folder.parent / "entity.csv"
    return Expect(["code", str(folder), "-o", str(out)], (("ICD-W101", "entity.docx: holds 1 XML entity"),),
                  check=_coded(out, "entity", "I10"))


def _flate_bomb_pdf(megabytes: int) -> bytes:
    """A one-page PDF whose content stream inflates to ``megabytes`` MB of text operators."""
    packer = zlib.compressobj(1)
    chunk = b"BT /F1 12 Tf 72 720 Td (Fiebre) Tj ET\n" * 27_000  # about 1 MB
    body = b"".join(packer.compress(chunk) for _ in range(megabytes)) + packer.flush()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 4 0 R >> >>"
        b" /Contents 5 0 R >>",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
        b"<< /Length %d /Filter /FlateDecode >>\nstream\n%b\nendstream" % (len(body), body),
    ]
    return pdf_file(objects)


@hostile_case("damaged, encrypted, image-only PDFs and a PDF stream bomb")
def _broken_pdf(folder: Path) -> Expect:
    (folder / "garbage.pdf").write_bytes(b"%PDF-1.4\n" + os.urandom(2048))
    (folder / "secret.pdf").write_bytes(_pdf("Fiebre", password="secret"))
    (folder / "scan.pdf").write_bytes(_pdf(None))
    (folder / "bomb.pdf").write_bytes(_flate_bomb_pdf(100))
    return _batch(folder, ("ICD-E101", "garbage.pdf: damaged"), ("ICD-E101", "secret.pdf: PDF is password-protected"),
                  ("ICD-E101", "scan.pdf: PDF has no text layer"), ("ICD-E101", "bomb.pdf: too large when unpacked"),
                  max_memory_mb=1536)


# -- big documents: linear cost (the curve itself is benchmarks/size_curve.py) ---------------------


@hostile_case("3 MB document")
def _big(folder: Path) -> Expect:
    (folder / "big.txt").write_text(clinical_text(3_000_000), encoding="utf-8")
    return _batch(folder, returncode=0, timeout_s=60, max_memory_mb=3072)


@hostile_case("2 MB single line")
def _single_line(folder: Path) -> Expect:
    (folder / "line.txt").write_text(clinical_text(2_000_000, single_line=True), encoding="utf-8")
    return _batch(folder, returncode=0, timeout_s=60, max_memory_mb=3072)


# -- folders and names ----------------------------------------------------------------------------


@hostile_case("folders nested 1,200 deep")
def _deep(folder: Path) -> Expect:
    deep = folder
    for _ in range(1200):
        deep /= "d"
        deep.mkdir()
    (deep / "bottom.txt").write_text(GOOD_TEXT, encoding="utf-8")
    out = folder.parent / "deep.csv"
    return Expect(["code", str(folder), "-o", str(out)], check=_coded(out, "bottom", "I10"))


@hostile_case("explicit path under an unsearchable folder")
def _locked_path(folder: Path) -> Expect:
    locked = folder / "locked"
    locked.mkdir()
    (locked / "note.txt").write_text(GOOD_TEXT, encoding="utf-8")
    locked.chmod(0o600)  # readable, not searchable
    good, out = _good(folder), folder / "out.csv"
    return Expect(["code", str(locked / "note.txt"), str(good), "-o", str(out)],
                  (("ICD-E101", "note.txt: cannot be read (Permission denied)"),), 1, prefix=_AS_USER,
                  check=_coded(out, "good", "I10"))


@hostile_case("unreadable subfolder")
def _locked_folder(folder: Path) -> Expect:
    locked = folder / "locked"
    locked.mkdir()
    (locked / "note.txt").write_text(GOOD_TEXT, encoding="utf-8")
    locked.chmod(0)
    expect = _batch(folder, ("ICD-E104", "locked: folder cannot be searched (Permission denied)"))
    return Expect(expect.args, expect.lines, expect.returncode, prefix=_AS_USER, check=expect.check)


@hostile_case("file name that is not UTF-8")
def _bad_name(folder: Path) -> Expect:
    Path(os.fsdecode(os.fsencode(folder) + b"/caso-\xff\xfe.txt")).write_text(GOOD_TEXT, encoding="utf-8")
    out = folder.parent / "names.csv"
    return Expect(["code", str(folder), "-o", str(out)], check=_coded(out, "caso-\ufffd\ufffd", "I10"))


# -- where the output goes ------------------------------------------------------------------------


def _device(folder: Path, name: str, minor: int) -> Path:
    """A private copy of /dev/null (minor 3) or /dev/full (7) when root may make one, else the real one.

    Private, because a regression would replace the device with a file: it must not be the machine's.
    """
    if os.geteuid() != 0:
        return Path("/dev") / name
    device = folder / name
    os.mknod(device, 0o666 | stat.S_IFCHR, os.makedev(1, minor))
    return device


def _still_a_device(path: Path) -> Callable[[Bounded], None]:
    def check(_: Bounded) -> None:
        assert stat.S_ISCHR(os.stat(path).st_mode), f"{path} was replaced by a regular file"

    return check


@hostile_case("-o /dev/null")
def _dev_null(folder: Path) -> Expect:
    device = _device(folder, "null", 3)
    return Expect(["code", str(_good(folder)), "-o", str(device)], check=_still_a_device(device))


@hostile_case("-o /dev/full")
def _dev_full(folder: Path) -> Expect:
    device = _device(folder, "full", 7)
    return Expect(["code", str(_good(folder)), "-o", str(device)], (("ICD-E403", "the disk is full"),), 2,
                  check=_still_a_device(device))


@hostile_case("-o /dev/stdout")
def _dev_stdout(folder: Path) -> Expect:
    link = folder / "stdout"
    link.symlink_to("/proc/self/fd/1")  # what /dev/stdout is, without touching the machine's /dev

    def check(result: Bounded) -> None:
        assert link.is_symlink()
        rows = list(csv.DictReader(io.StringIO(result.stdout)))
        assert any(Path(row["path"]).stem == "good" and row["code"] == "I10" for row in rows), result.stdout[:500]
        assert "written to" in result.stderr

    return Expect(["code", str(_good(folder)), "-o", str(link)], check=check)


@hostile_case("-o into a missing folder, checked before coding")
def _unwritable(folder: Path) -> Expect:
    # Were the output checked only at the end, binary.txt's ICD-E101 line would come first.
    (folder / "binary.txt").write_bytes(bytes(64))
    _good(folder)
    out = folder / "missing" / "out.csv"
    return Expect(["code", str(folder), "-o", str(out)], (("ICD-E403", "missing/out.csv: the folder"),), 2)


@hostile_case("eval --json into a missing folder, checked before evaluating")
def _eval_json(folder: Path) -> Expect:
    split = folder / "mini"
    (split / "text_files").mkdir(parents=True)
    (split / "text_files" / "d1.txt").write_text(GOOD_TEXT, encoding="utf-8")
    (split / "miniX.tsv").write_text("d1\tDIAGNOSTICO\ti10\thipertensión arterial\t13 34\n", encoding="utf-8")

    def check(result: Bounded) -> None:
        assert "F1" not in result.stdout  # nothing was evaluated

    return Expect(["eval", str(split), "--no-llm", "--json", str(folder / "missing" / "scores.json")],
                  (("ICD-E403", "scores.json: the folder"),), 2, check=check)


@hostile_case("disk full while writing the CSV")
def _disk_full(folder: Path) -> Expect:
    (folder / "big.txt").write_text(clinical_text(200_000), encoding="utf-8")
    out = folder.parent / "full.csv"
    out.write_text("the previous export\n", encoding="utf-8")
    limit = 64_000  # bytes any one file may grow to: the CSV needs far more
    prefix = [sys.executable, "-c", "import os, resource, sys; resource.setrlimit(resource.RLIMIT_FSIZE, "
              f"({limit}, {limit})); os.execv(sys.argv[1], sys.argv[1:])"]

    def check(_: Bounded) -> None:
        assert out.read_text(encoding="utf-8") == "the previous export\n"
        assert not list(folder.parent.glob(".full.csv.*.tmp"))

    return Expect(["code", str(folder), "-o", str(out)], (("ICD-E403", "full.csv: the file is larger than"),), 2,
                  prefix=prefix, check=check)
